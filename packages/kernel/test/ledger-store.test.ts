import { describe, expect, it } from 'vitest';
import { apply, emptyLedger, heldBy, type LedgerState } from '@edca/ledger';
import type { AppendedRecord } from '../src/journal.js';
import { createLedgerStore, type LedgerStore } from '../src/internal/ledger-store.js';

// The embedded store reads the counters of journaled permits from the ledger fold and keeps only
// what the journal does not hold yet. These records are what the fold reads (it checks no
// signature), written the way the kernel writes them.
const D = (c: string): string => `sha256:${c.repeat(64)}`;
const POLICY = D('a');
const at = (ms: number): string => new Date(ms).toISOString();
let seq = 0;
const record = (type: string, ms: number, body: Record<string, unknown>, hash: string): AppendedRecord =>
  ({ record: { type, seq: ++seq, at: at(ms), kid: 'k', body }, hash }) as unknown as AppendedRecord;

const counter = 'refund.budget|customer:x|0';
const permit = (hash: string, holdId: string, ms: number, expiresMs: number): AppendedRecord =>
  record(
    'decision',
    ms,
    {
      verdict: 'permit',
      decisionKey: D('b'),
      policyDigest: POLICY,
      stateHash: D('c'),
      actionHash: D('d'),
      input: { proposal: { intent: 'refund', params: {} }, approvals: [] },
      expiresAt: at(expiresMs),
      hold: {
        id: holdId,
        counters: [{ key: 'refund.budget', counter, amount: 30, max: 100, windowEnd: null }],
      },
    },
    hash,
  );

/** Journals a record: applies it to the fold, then tells the store, as the kernel's append does. */
function land(ledger: LedgerState, store: LedgerStore, appended: AppendedRecord): void {
  apply(ledger, appended);
  store.landed(appended);
}

function setup(): { ledger: LedgerState; store: LedgerStore } {
  const ledger = emptyLedger();
  const store = createLedgerStore(ledger);
  land(
    ledger,
    store,
    record('policy.activated', 0, { policyDigest: POLICY, name: 'm', version: '1', owner: 'o' }, D('0')),
  );
  return { ledger, store };
}

const reservation = (holdId: string, holdUntil: number) => ({
  id: `${holdId}|refund.budget`,
  counter,
  amount: 30,
  max: 100,
  holdUntil,
});

describe('createLedgerStore', () => {
  describe('when a reservation is taken and its permit is journaled', () => {
    it('counts it once: beside the fold until the record lands, then from the fold', async () => {
      const { ledger, store } = setup();
      expect(await store.reserve([reservation('h1', 5_000)], 1_000)).toEqual({ ok: true });
      expect(await store.usage(counter, 1_000)).toBe(30);
      land(ledger, store, permit(D('1'), 'h1', 1_000, 5_000));
      expect(await store.usage(counter, 1_000)).toBe(30);
      expect(heldBy(ledger.counters.get(counter)!, D('1'))).toBe(30);
      // The fold's holds and the in-flight ones are checked together against max.
      expect(await store.reserve([reservation('h2', 5_000)], 1_000)).toEqual({ ok: true });
      expect(await store.reserve([reservation('h3', 5_000)], 1_000)).toEqual({ ok: true });
      expect(await store.reserve([reservation('h4', 5_000)], 1_000)).toMatchObject({ ok: false, usage: 90 });
    });
  });

  describe("when the kernel reserves a permit's holds under its hold id (reserveHold)", () => {
    it('counts them once: beside the fold until the record lands, then from the fold', async () => {
      const { ledger, store } = setup();
      expect(await store.reserveHold('h1', [reservation('h1', 5_000)], 1_000)).toEqual({ ok: true });
      expect(await store.usage(counter, 1_000)).toBe(30);
      land(ledger, store, permit(D('1'), 'h1', 1_000, 5_000));
      expect(await store.usage(counter, 1_000)).toBe(30);
      expect(await store.reserveHold('h2', [reservation('h2', 5_000)], 1_000)).toEqual({ ok: true });
      expect(await store.reserveHold('h3', [reservation('h3', 5_000)], 1_000)).toEqual({ ok: true });
      expect(await store.reserveHold('h4', [reservation('h4', 5_000)], 1_000)).toMatchObject({
        ok: false,
        usage: 90,
      });
      // Released before its record landed (the journal refused it), then the same hold id lands:
      // nothing is dropped twice, and the fold alone counts it.
      await store.release('h2|refund.budget');
      expect(await store.usage(counter, 1_000)).toBe(60);
      land(ledger, store, permit(D('3'), 'h3', 1_000, 5_000));
      expect(await store.usage(counter, 1_000)).toBe(60);
      land(ledger, store, permit(D('2'), 'h2', 1_000, 5_000));
      expect(await store.usage(counter, 1_000)).toBe(90);
    });
  });

  describe('when a permit expires while execute has pinned it but its attempt has not landed', () => {
    it('keeps counting its hold, and the attempt takes over', async () => {
      const { ledger, store } = setup();
      await store.reserve([reservation('h1', 5_000)], 1_000);
      land(ledger, store, permit(D('1'), 'h1', 1_000, 5_000));
      expect(await store.usage(counter, 6_000)).toBe(0);
      await store.pin('h1|refund.budget');
      expect(await store.usage(counter, 6_000)).toBe(30);
      land(
        ledger,
        store,
        record(
          'attempt',
          6_000,
          { permit: D('1'), actionHash: D('d'), idempotencyKey: D('1'), try: 1 },
          D('2'),
        ),
      );
      expect(await store.usage(counter, 6_000)).toBe(30);
      land(
        ledger,
        store,
        record('outcome', 6_000, { attempt: D('2'), permit: D('1'), status: 'failed' }, D('3')),
      );
      expect(await store.usage(counter, 6_000)).toBe(0);
    });
  });

  describe('when a decision is not journaled after all', () => {
    it('releases the in-flight reservation', async () => {
      const { store } = setup();
      await store.reserve([reservation('h1', 5_000)], 1_000);
      await store.release('h1|refund.budget');
      expect(await store.usage(counter, 1_000)).toBe(0);
    });
  });

  describe('when the store is closed', () => {
    it('refuses with STORE_UNAVAILABLE', async () => {
      const { store } = setup();
      await store.close();
      await expect(store.usage(counter, 0)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      await expect(store.pin('h1|refund.budget')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    });
  });
});
