import { compile, loadStateMap } from '@edca/semantic';
import fc from 'fast-check';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { MAPS, readFixture } from './helpers.js';

/** Rebuilds every object of a JSON value with its keys in the order `order` gives. */
function reorder(value: unknown, order: (keys: string[]) => string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => reorder(v, order));
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return Object.fromEntries(order(Object.keys(obj)).map((k) => [k, reorder(obj[k], order)]));
  }
  return value;
}

describe('policy digest', () => {
  describe.each(MAPS)('of %s', (name) => {
    const text = readFixture(`maps/${name}.yaml`);
    const doc = parseYaml(text) as Record<string, unknown>;
    const digest = compile(doc).digest;

    it('is a sha256 digest, stable across compilations', () => {
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(compile(structuredClone(doc)).digest).toBe(digest);
    });

    it('ignores comments, formatting, YAML vs JSON and key order', () => {
      const noComments = text
        .split('\n')
        .filter((l) => !/^\s*#/.test(l))
        .join('\n');
      const reformatted = toYaml(doc, { indent: 4, flowCollectionPadding: false });
      const asJson = JSON.stringify(reorder(doc, (k) => [...k].reverse()));
      for (const [label, t] of [
        ['comments removed', noComments],
        ['reformatted', reformatted],
        ['JSON, keys reversed', asJson],
      ] as const) {
        const r = loadStateMap(t, label);
        expect(r.ok && r.value.digest, label).toBe(digest);
      }
    });

    it('ignores any permutation of keys (property)', () => {
      fc.assert(
        fc.property(fc.integer(), (seed) => {
          let x = seed;
          const shuffle = (keys: string[]): string[] => {
            const a = [...keys];
            for (let i = a.length - 1; i > 0; i--) {
              x = (x * 1103515245 + 12345) & 0x7fffffff;
              const j = x % (i + 1);
              [a[i], a[j]] = [a[j]!, a[i]!];
            }
            return a;
          };
          expect(compile(reorder(doc, shuffle)).digest).toBe(digest);
        }),
        { numRuns: 25 },
      );
    });
  });

  describe('when meaning changes', () => {
    const base = parseYaml(readFixture('maps/retail-banking.yaml')) as {
      version: string;
      facets: Record<string, { bands?: { below?: number }[]; rules?: unknown[] }>;
      intents: Record<string, { description: string; escalate_when?: string; approvals?: { count: number } }>;
      routes: Record<string, { handler: string }>;
    };
    const digest = compile(base).digest;
    const variants: [string, (d: typeof base) => void][] = [
      ['the version', (d) => (d.version = '2026.11.3')],
      ['a band threshold', (d) => (d.facets.payment_band!.bands![1]!.below = 50001)],
      ['an escalation condition', (d) => (d.intents.refund_payment!.escalate_when = 'params.amount > 499.0')],
      ['the approvals count', (d) => (d.intents.refund_payment!.approvals!.count = 2)],
      ['an intent description the model sees', (d) => (d.intents.freeze_card!.description += '!')],
      ['a route handler', (d) => (d.routes.freeze_card!.handler = 'cards.status.block')],
      [
        'the order of rules (first match wins)',
        (d) => {
          const r = d.facets.account_standing!.rules!;
          [r[0], r[1]] = [r[1], r[0]];
        },
      ],
    ];
    it.each(variants)('changes when %s changes', (_what, mutate) => {
      const d = structuredClone(base);
      mutate(d);
      const r = compile(d);
      expect(r.digest).not.toBe(digest);
    });

    it('treats the shorthand `integer` and `{ type: integer }` as the same meaning', () => {
      const a = parseYaml(readFixture('invalid/valid-base.yaml')) as {
        sources: { account: { fields: Record<string, unknown> } };
      };
      const b = structuredClone(a);
      b.sources.account.fields.OD_LIMIT_CENTS = { type: 'integer' };
      expect(compile(b).digest).toBe(compile(a).digest);
    });
  });
});
