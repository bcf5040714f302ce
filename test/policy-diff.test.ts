// Issue 17 point 2 and the diff half of point 4: `edca diff OLD NEW` on a real kernel journal,
// re-deciding under NEW or reading the shadow records a kernel wrote with NEW beside OLD.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '@edca/cli';
import type { JournalDiff, MapDiff } from '@edca/policy';
import { toBase64url } from '@edca/records';
import { loadStateMap } from '@edca/semantic';
import { agent, makeHarness } from '../packages/kernel/test/support/harness.js';
import { captureIo } from './helpers/cli-io.js';

const OLD_TEXT = readFileSync(
  new URL('../packages/kernel/test/support/refund-map.yaml', import.meta.url),
  'utf8',
);
// NEW: refunds above 100 (not 500) wait for approval, hold_payment is gone, a rate limit is tighter.
const NEW_TEXT = OLD_TEXT.replace(
  "escalate_when: 'params.amount > 500.0'",
  "escalate_when: 'params.amount > 100.0'",
)
  .replace('{ key: refund.rate, kind: rate, max: 50,', '{ key: refund.rate, kind: rate, max: 40,')
  .replace("version: '1'", "version: '2'");

let dir: string;
let oldPath: string;
let newPath: string;
let journalPath: string;
let trustPath: string;
/** seqs of the live decisions on refunds of 300 (they change) and of 50 (they do not). */
const changedSeqs: number[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edca-diff-'));
  oldPath = join(dir, 'old.yaml');
  newPath = join(dir, 'new.yaml');
  writeFileSync(oldPath, OLD_TEXT);
  writeFileSync(newPath, NEW_TEXT);
  const candidate = loadStateMap(NEW_TEXT, 'new.yaml');
  if (!candidate.ok) throw new Error('NEW does not load');
  const h = await makeHarness({ dir, overrides: { shadow: [candidate.value] } });
  const ctx = { session: h.session, ...agent };
  for (const [id, amount] of [
    ['P-1', 300],
    ['P-2', 50],
    ['P-3', 300],
    ['P-4', 50],
    ['P-5', 700],
  ] as const) {
    const d = await h.kernel.decide(
      { intent: 'refund_payment', params: { payment: h.refFor(id), amount } },
      ctx,
    );
    if (amount === 300) changedSeqs.push(d.record!.seq);
  }
  // A kernel pre-check (an intent no map declares) is journaled, and skipped by the diff.
  await h.kernel.decide({ intent: 'wire_everything', params: {} }, ctx);
  journalPath = h.journalPath;
  trustPath = join(dir, 'trust.json');
  writeFileSync(
    trustPath,
    JSON.stringify({
      version: 1,
      keys: [
        {
          kid: h.signer.kid,
          alg: 'Ed25519',
          publicKey: toBase64url(h.signer.publicKey),
          role: 'kernel',
          notBefore: '2020-01-01T00:00:00.000Z',
          notAfter: null,
        },
      ],
    }),
  );
  await h.kernel.close();
  await h.journal.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function diff(args: string[]) {
  const io = captureIo();
  const code = await runCli(['diff', ...args], io);
  return { code, out: io.out(), err: io.err() };
}

describe('edca diff', () => {
  describe('when NEW escalates decisions OLD permitted', () => {
    it('re-decides the journaled inputs, counts the changes per intent with example seqs, and exits 1', async () => {
      const r = await diff([oldPath, newPath, '--journal', journalPath, '--json']);
      expect(r.code).toBe(1);
      const { maps, journal } = JSON.parse(r.out) as { maps: MapDiff; journal: JournalDiff };
      expect(journal).toMatchObject({
        source: 'redecide',
        decisions: 5,
        changed: 2,
        skipped: 1,
        oldMismatches: 0,
      });
      expect(journal.byIntent['refund_payment']).toEqual({
        decisions: 5,
        changed: 2,
        groups: [
          {
            from: { verdict: 'permit', rule: 'intents.refund_payment.allowed_when', reasons: ['ALLOWED'] },
            to: {
              verdict: 'escalate',
              rule: 'intents.refund_payment.escalate_when',
              reasons: ['APPROVAL_REQUIRED'],
            },
            count: 2,
            examples: changedSeqs,
          },
        ],
      });
      expect(maps.changes.map((c) => [c.kind, c.change, c.name])).toEqual([
        ['approval', 'changed', 'refund_payment'],
        ['limit', 'changed', 'refund_payment/refund.rate'],
      ]);
    });

    it('reads the same changes from the shadow records with --from-shadow', async () => {
      const r = await diff([oldPath, newPath, '--journal', journalPath, '--from-shadow', '--json']);
      expect(r.code).toBe(1);
      const { journal } = JSON.parse(r.out) as { journal: JournalDiff };
      expect(journal).toMatchObject({ source: 'shadow', decisions: 5, changed: 2, unshadowed: 0 });
      expect(journal.byIntent['refund_payment']!.groups[0]!.examples).toEqual(changedSeqs);
    });

    it('prints the changes for people', async () => {
      const r = await diff([oldPath, newPath, '--journal', journalPath]);
      expect(r.code).toBe(1);
      expect(r.out).toContain('intent refund_payment: 2 of 5 decision(s) changed');
      expect(r.out).toContain(`e.g. seq ${changedSeqs.join(', ')}`);
      expect(r.out).toMatch(/changed +approval +refund_payment/);
    });
  });

  describe('when NEW decides every journaled input as OLD did', () => {
    it('exits 0', async () => {
      const r = await diff([oldPath, oldPath, '--journal', journalPath]);
      expect(r.code).toBe(0);
      expect(r.out).toContain('5 compared, 0 changed');
    });
  });

  describe('when the command line or the input is wrong', () => {
    it('exits 2: no journal, both sources, an unreadable map, a journal line that is no record', async () => {
      expect((await diff([oldPath, newPath])).code).toBe(2);
      expect(
        (await diff([oldPath, newPath, '--journal', journalPath, '--store', 'postgres://x/y'])).code,
      ).toBe(2);
      expect((await diff([join(dir, 'absent.yaml'), newPath, '--journal', journalPath])).code).toBe(2);
      const broken = join(dir, 'broken.jsonl');
      writeFileSync(broken, readFileSync(journalPath, 'utf8') + '{"not":"a record"}\n');
      const r = await diff([oldPath, newPath, '--journal', broken]);
      expect(r.code).toBe(2);
      expect(r.err).toContain('DIFF_JOURNAL_INVALID');
    });
  });
});

describe('edca audit verify on a journal with shadow records', () => {
  it('is intact, and names the shadow decisions', async () => {
    const io = captureIo();
    expect(await runCli(['audit', 'verify', journalPath, '--trust', trustPath], io)).toBe(0);
    expect(io.out()).toContain('shadow decisions: 5');
  });
});
