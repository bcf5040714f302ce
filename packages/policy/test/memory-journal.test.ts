// The in-memory journal `edca test` decides with is held to the shared Journal suite every
// journal of the repository passes (file journal, PostgreSQL journal).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runJournalSuite } from '@edca/kernel/testing';
import { openMemoryJournal, type MemoryJournalStorage } from '../src/internal/memory-journal.js';

runJournalSuite(
  { describe, it, beforeEach, afterEach, expect },
  'memory journal (edca test)',
  ({ stream, signer, checkpointEvery }) => {
    const storage: MemoryJournalStorage = { records: [] };
    return Promise.resolve({
      open: () => Promise.resolve(openMemoryJournal({ stream, signer, checkpointEvery, storage })),
      dispose: () => Promise.resolve(),
    });
  },
);
