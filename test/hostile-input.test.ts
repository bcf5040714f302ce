// Hostile sizes: a megabyte string in a param, a display value or the model output is refused at
// once, and every pattern run on untrusted text takes time linear in its length. The bound is
// the event loop: one request must not stall every other session of the process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createArp,
  createLeakGuard,
  DEFAULT_LEAK_PATTERNS,
  forbiddenContent,
  type Arp,
  type ArpHandler,
} from '@edca/arp';
import { createKernel, openFileJournal, systemClock, type FileJournal, type Kernel } from '@edca/kernel';
import { createNodeSigner, generateKeyPair } from '@edca/records';
import { loadStateMap, type CompiledMap } from '@edca/semantic';

const MAP = `
edca: state-map/v1
name: hostile-notes
version: '1'
owner: servicing-lead
sources:
  acct_tbl:
    fields:
      acct_no: string
      holder_nm: string
      memo_txt: string
entities:
  account: { source: acct_tbl, id: acct_no }
facets: {}
machines:
  account:
    entity: account
    states: [open]
    initial: open
intents:
  add_note:
    description: Add a short note to the customer's account.
    params:
      account: { ref: account }
      note: { type: string, max_length: 200 }
      code: { type: string, max_length: 40, pattern: '(a|aa)+' }
display:
  values:
    holder: { from: acct_tbl.holder_nm }
  free_text:
    memo: { from: acct_tbl.memo_txt, show: true, max_length: 500 }
routes:
  add_note:
    handler: crm.addNote
    params:
      account: { field: acct_no }
      note: { field: note_txt }
      code: { field: note_cd }
`;

const MEGABYTE = 1 << 20;
/** A source string field without `max_length` holds at most this many UTF-16 units (docs/state-maps.md). */
const MAX_SOURCE_STRING = 100_000;
/** Generous: the work is a length check, a few microseconds; the rest is a loaded machine. */
const BUDGET_MS = 50;

/** The fastest of a few runs: the least disturbed by other processes on the machine. */
async function fastestMs(run: () => unknown): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await run();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

const session = { stream: 'hostile', session: 'chat-1' };
const handlers: Record<string, ArpHandler> = { 'crm.addNote': () => ({ ok: true }) };
const records = (over: Record<string, string> = {}) => ({
  acct_tbl: { acct_no: 'A-1', holder_nm: 'Jo Bloggs', memo_txt: 'call back', ...over },
});

let map: CompiledMap;
let arp: Arp;
let dir: string;
let journal: FileJournal;
let kernel: Kernel;
let accountRef: string;

beforeAll(async () => {
  const loaded = loadStateMap(MAP, 'hostile-notes.yaml');
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics));
  map = loaded.value;
  arp = createArp({ map, refKey: new Uint8Array(32).fill(3), handlers });
  dir = mkdtempSync(join(tmpdir(), 'edca-hostile-'));
  const signer = createNodeSigner(generateKeyPair().privateKeyPem);
  journal = await openFileJournal({
    path: join(dir, 'journal.jsonl'),
    stream: 'hostile',
    signer,
    fsync: false,
  });
  kernel = await createKernel({
    maps: [map],
    loaders: { 'hostile-notes': () => Promise.resolve(records()) },
    refKey: new Uint8Array(32).fill(3),
    signer,
    journal,
    clock: systemClock,
    handlers,
  });
  const view = kernel.arps.get('hostile-notes')!.project(records(), session);
  if (!view.ok) throw new Error(view.code);
  accountRef = view.value.entities['account']!;
});

afterAll(async () => {
  await kernel?.close();
  await journal?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a megabyte of hostile text', () => {
  const huge = 'http'.repeat(MEGABYTE / 4);

  describe('when it is a string param given to kernel.decide', () => {
    it('is refused in under 50 ms', async () => {
      const context = {
        session,
        principal: { id: 'agent-1', attributes: {} },
        proposer: { modelId: 'm', promptTemplateDigest: `sha256:${'c'.repeat(64)}` },
      };
      for (const params of [
        { account: accountRef, note: huge, code: 'a' },
        { account: accountRef, note: 'fine', code: 'a'.repeat(MEGABYTE) + '!' },
      ]) {
        let verdict = '';
        const ms = await fastestMs(async () => {
          verdict = (await kernel.decide({ intent: 'add_note', params }, context)).verdict;
        });
        expect(verdict).toBe('refuse');
        expect(ms).toBeLessThan(BUDGET_MS);
      }
    });
  });

  describe('when it is a param in the model output', () => {
    it('is refused in under 50 ms, as text and as a parsed value', async () => {
      const value = { intent: 'add_note', params: { account: accountRef, note: huge, code: 'a' } };
      const text = JSON.stringify(value);
      for (const raw of [text, value]) {
        let code: string | undefined;
        const ms = await fastestMs(() => {
          const r = arp.intake(raw, 'json', session);
          code = r.ok ? undefined : r.code;
        });
        expect(code).toBe('PAYLOAD_TOO_LARGE');
        expect(ms).toBeLessThan(BUDGET_MS);
      }
    });

    it('is refused by the param schema in under 50 ms when the size limit is raised', async () => {
      const big = createArp({
        map,
        refKey: new Uint8Array(32).fill(3),
        handlers,
        limits: { maxBytes: 4 * MEGABYTE },
      });
      let code: string | undefined;
      const ms = await fastestMs(() => {
        const r = big.resolve(
          { intent: 'add_note', params: { account: accountRef, note: huge, code: 'a' } },
          session,
        );
        code = r.ok ? undefined : r.code;
      });
      expect(code).toBe('SCHEMA_VIOLATION');
      expect(ms).toBeLessThan(BUDGET_MS);
    });
  });

  describe('when it is a display value of the business records', () => {
    it('is refused in under 50 ms: over the source bound at derive, over the display bound after', async () => {
      // A megabyte is over the default source string bound (derive fails closed first); a value
      // within that bound but over the display bound is refused before the leak guard reads it.
      for (const [value, expected] of [
        [huge, 'STATE_UNDERIVABLE'],
        ['x'.repeat(MAX_SOURCE_STRING - 1), 'DISPLAY_TOO_LARGE'],
      ] as const) {
        let code: string | undefined;
        const ms = await fastestMs(() => {
          const r = arp.project(records({ holder_nm: value }), session);
          code = r.ok ? undefined : r.code;
        });
        expect(code).toBe(expected);
        expect(ms).toBeLessThan(BUDGET_MS);
      }
    });
  });

  describe('when it is free text of the business records', () => {
    it('is refused over the source bound, and cut to the map`s max_length under it, in under 50 ms', async () => {
      let refused: string | undefined;
      const big = await fastestMs(() => {
        const r = arp.project(records({ memo_txt: '𝒜'.repeat(MEGABYTE / 2) }), session);
        refused = r.ok ? undefined : r.code;
      });
      expect(refused).toBe('STATE_UNDERIVABLE');
      expect(big).toBeLessThan(BUDGET_MS);
      let text = '';
      const ms = await fastestMs(() => {
        const r = arp.project(records({ memo_txt: '𝒜'.repeat(MAX_SOURCE_STRING / 2 - 1) }), session);
        if (r.ok) text = r.value.untrusted?.[0]?.untrusted_text.text ?? '';
      });
      expect(Array.from(text)).toHaveLength(500);
      expect(ms).toBeLessThan(BUDGET_MS);
    });
  });
});

/**
 * Runs `run` over the same total amount of text cut into pieces of about n and of 8n characters
 * (`unit` repeated), and returns how much longer the long pieces took: about 1 for a linear
 * pattern (caches and garbage collection make it up to 2 or 3 here), 8 for a quadratic one.
 */
function growth(unit: string, n: number, total: number, run: (text: string) => unknown): number {
  const texts = [n, 8 * n].map((size) => unit.repeat(Math.ceil(size / unit.length)));
  for (const text of texts) for (let i = 0; i < 3; i++) run(text); // warm up the JIT and regexp tiers
  const [short, long] = texts.map((text) => {
    // The fastest of five rounds: a round the scheduler preempted is not the pattern's time.
    let best = Infinity;
    for (let round = 0; round < 5; round++) {
      const t0 = performance.now();
      for (let done = 0; done < total; done += text.length) run(text);
      best = Math.min(best, performance.now() - t0);
    }
    return Math.max(best, 0.5);
  });
  return long! / short!;
}

// Pieces the patterns look for, and the characters their runs are made of.
const pieces = fc.constantFrom(
  'a',
  'Z',
  '7',
  ' ',
  '.',
  '-',
  '+',
  '/',
  ':',
  '//',
  '@',
  '(',
  ')',
  ';',
  "'",
  '=',
  '\n',
  '\\',
  'select ',
  'from ',
  'where ',
  'union ',
  'like ',
  'or ',
  'www.',
  'http',
  '://',
  'GB82',
  '07700 ',
  '+44 ',
  'cust',
  'acct',
  'sim',
  'term',
  '\u200b',
  'с',
);
const unit = fc.array(pieces, { minLength: 1, maxLength: 12 }).map((p) => p.join(''));

/** Every match of a global pattern over `text`, the way the leak guard walks them. */
function allMatches(regex: RegExp, text: string): number {
  let n = 0;
  regex.lastIndex = 0;
  for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
    if (m[0].length === 0) regex.lastIndex++;
    n++;
  }
  return n;
}

describe('patterns run on untrusted text', () => {
  describe('when the text grows', () => {
    it('forbidden-content rules take time linear in its length', () => {
      fc.assert(
        fc.property(unit, (u) => {
          expect(growth(u, 4_000, 1_000_000, forbiddenContent)).toBeLessThan(5);
        }),
        { numRuns: 15 },
      );
    });

    it('each default leak pattern takes time linear in its length', () => {
      fc.assert(
        fc.property(unit, fc.constantFrom(...DEFAULT_LEAK_PATTERNS), (u, pattern) => {
          expect(growth(u, 4_000, 1_000_000, (text) => allMatches(pattern.regex, text))).toBeLessThan(5);
        }),
        { numRuns: 30 },
      );
    });

    it('a whole leak-guard scan takes time linear in its length', () => {
      const guard = createLeakGuard({
        terms: [
          { term: 'cust_acct_no', category: 'source_field' },
          { term: 'SIM_TERM', category: 'enum_code' },
        ],
        patterns: DEFAULT_LEAK_PATTERNS,
      });
      fc.assert(
        fc.property(unit, (u) => {
          expect(growth(u, 1_000, 64_000, (text) => guard.scan({ text }))).toBeLessThan(5);
        }),
        { numRuns: 15 },
      );
    });
  });
});
