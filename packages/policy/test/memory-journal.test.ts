// The in-memory journal `edca test` decides with is held to the shared Journal suite every
// journal of the repository passes (file journal, PostgreSQL journal).
import { runJournalSuite } from '../../kernel/test/journal-suite.js';
import { openMemoryJournal, type MemoryJournalStorage } from '../src/internal/memory-journal.js';

runJournalSuite('memory journal (edca test)', ({ stream, signer, checkpointEvery }) => {
  const storage: MemoryJournalStorage = { records: [] };
  return Promise.resolve({
    open: () => Promise.resolve(openMemoryJournal({ stream, signer, checkpointEvery, storage })),
    dispose: () => Promise.resolve(),
  });
});
