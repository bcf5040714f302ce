import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createMemoryStore } from '@edca/kernel';
import { runStoreSuite } from '@edca/kernel/testing';

runStoreSuite({ describe, it, beforeEach, afterEach, expect }, 'memory', () =>
  Promise.resolve({ store: createMemoryStore() }),
);

// The memory store keeps one reservation id per counter as a plain string and drops lapsed holds as
// it meets them; a list of every reservation, scanned in full, is the reference it must equal.
describe('createMemoryStore (against a reference model)', () => {
  describe('when reservations, settles, releases and usage reads interleave', () => {
    it('answers every call exactly as the reference does', async () => {
      type Res = { id: string; counter: string; amount: number; max: number; holdUntil: number };
      type Op =
        | { kind: 'reserve'; wanted: Res[]; now: number }
        | { kind: 'settle'; id: string }
        | { kind: 'release'; id: string }
        | { kind: 'usage'; counter: string; now: number };
      const id = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g');
      const counter = fc.constantFrom('rate|x|0', 'rate|y|0', 'budget|x|0');
      const now = fc.integer({ min: 0, max: 20 });
      const res = fc.record({
        id,
        counter,
        amount: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom(-1, Number.NaN, Infinity, 0.5)),
        max: fc.integer({ min: 0, max: 12 }),
        holdUntil: fc.integer({ min: 0, max: 25 }),
      });
      const op: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ kind: fc.constant('reserve' as const), wanted: fc.array(res, { maxLength: 3 }), now }),
        fc.record({ kind: fc.constant('settle' as const), id }),
        fc.record({ kind: fc.constant('release' as const), id }),
        fc.record({ kind: fc.constant('usage' as const), counter, now }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
          const store = createMemoryStore();
          const model: (Res & { settled: boolean })[] = [];
          const modelUsage = (c: string, t: number): number => {
            let total = 0;
            for (const r of [...model]) {
              if (r.counter !== c) continue;
              if (r.settled || r.holdUntil > t) total += r.amount;
              else model.splice(model.indexOf(r), 1);
            }
            return total;
          };
          const reference = (o: Op): unknown => {
            if (o.kind === 'usage') return modelUsage(o.counter, o.now);
            if (o.kind === 'settle' || o.kind === 'release') {
              const r = model.find((m) => m.id === o.id);
              if (r && o.kind === 'settle') r.settled = true;
              if (r && o.kind === 'release' && !r.settled) model.splice(model.indexOf(r), 1);
              return undefined;
            }
            const pending = new Map<string, number>();
            for (const r of o.wanted) {
              if (model.some((m) => m.id === r.id) || o.wanted.filter((w) => w.id === r.id).length > 1)
                return { code: 'STORE_MISUSE' };
              if (!(r.amount >= 0) || !Number.isFinite(r.amount)) return { code: 'STORE_MISUSE' };
              const usage = modelUsage(r.counter, o.now) + (pending.get(r.counter) ?? 0);
              if (usage + r.amount > r.max) return { ok: false, counter: r.counter, usage };
              pending.set(r.counter, (pending.get(r.counter) ?? 0) + r.amount);
            }
            for (const r of o.wanted) model.push({ ...r, settled: false });
            return { ok: true };
          };
          for (const o of ops) {
            const expected = reference(o);
            let actual: unknown;
            try {
              actual =
                o.kind === 'usage'
                  ? await store.usage(o.counter, o.now)
                  : o.kind === 'settle'
                    ? await store.settle(o.id)
                    : o.kind === 'release'
                      ? await store.release(o.id)
                      : await store.reserve(o.wanted, o.now);
            } catch (e) {
              actual = { code: (e as { code?: string }).code };
            }
            expect(actual).toEqual(expected);
          }
        }),
        { numRuns: 1500 },
      );
    });
  });
});

describe('createMemoryStore (bounded memory)', () => {
  describe('when a counter window has ended', () => {
    it('forgets its reservations, settled ones included, at the next reserve', async () => {
      const store = createMemoryStore();
      const old = { counter: 'rate|x|0', amount: 1, max: 10, holdUntil: 50, windowEnd: 100 };
      await store.reserve([{ id: 'a', ...old }], 0);
      await store.settle('a');
      expect(await store.usage('rate|x|0', 99)).toBe(1);
      await store.reserve(
        [{ id: 'b', counter: 'rate|x|100', amount: 1, max: 10, holdUntil: 150, windowEnd: 200 }],
        100,
      );
      expect(await store.usage('rate|x|0', 100)).toBe(0);
      // The id is free again: nothing of the ended window is kept.
      await expect(store.reserve([{ id: 'a', ...old }], 100)).resolves.toEqual({ ok: true });
    });
  });
});
