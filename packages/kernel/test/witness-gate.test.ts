import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileJournal, type CheckpointWitness } from '@edca/kernel';
import { createNodeSigner, generateKeyPair } from '@edca/records';
import { agent, makeHarness, testClock } from './support/harness.js';

// Witnesses that answer like `@edca/audit`'s createWitness does when it will not cosign; the real
// witness is exercised end to end in test/kernel-witnesses.test.ts.
const refusing = (kid: string): CheckpointWitness => ({
  kid,
  addCheckpoint: () =>
    Promise.resolve({ ok: false, code: 'WITNESS_ROLLBACK', message: 'smaller than the cosigned size' }),
});

describe('createKernel({ witnesses })', () => {
  describe('when the journal holds a checkpoint no quorum of witnesses cosigns', () => {
    it('refuses with WITNESS_QUORUM_UNMET under rule kernel.witness, and journals nothing', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'edca-witness-gate-'));
      const signer = createNodeSigner(generateKeyPair().privateKeyPem);
      const clock = testClock();
      const path = join(dir, 'journal.jsonl');
      const journal = await openFileJournal({
        path,
        stream: 'g',
        signer,
        clock,
        fsync: false,
        checkpointEvery: 1,
      });
      const h = await makeHarness({
        signer,
        clock,
        overrides: { journal, witnesses: { witnesses: [refusing('w1'), refusing('w2')], quorum: 1 } },
      });
      try {
        const before = readFileSync(path, 'utf8');
        expect(before).toContain('"type":"checkpoint"');
        const d = await h.kernel.decide(
          { intent: 'refund_payment', params: { payment: h.refFor('P-1'), amount: 10 } },
          { session: h.session, ...agent },
        );
        expect(d).toMatchObject({
          verdict: 'refuse',
          rule: 'kernel.witness',
          reasons: ['WITNESS_QUORUM_UNMET'],
        });
        expect(d.record).toBeNull();
        expect(readFileSync(path, 'utf8')).toBe(before);
      } finally {
        await h.close();
        await journal.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('when the witness policy is malformed', () => {
    it('throws KERNEL_CONFIG_INVALID for a quorum of 0 and for two witnesses with one kid', async () => {
      for (const witnesses of [
        { witnesses: [refusing('w1')], quorum: 0 },
        { witnesses: [refusing('w1'), refusing('w1')], quorum: 1 },
      ])
        await expect(makeHarness({ overrides: { witnesses } })).rejects.toMatchObject({
          code: 'KERNEL_CONFIG_INVALID',
        });
    });
  });
});
