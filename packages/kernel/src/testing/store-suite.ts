/**
 * The shared `KernelStore` suite: every implementation (memory, PostgreSQL) must pass it.
 *
 * `factory()` returns a fresh, empty store plus, optionally, a second handle on the SAME shared
 * state (another "instance"); `cleanup` runs after each test.
 */
import { KernelError } from '../errors.js';
import type { KernelStore, PendingApprovalInit, Reservation } from '../index.js';
import type { TestApi } from './test-api.js';

/** What a `KernelStore` adapter gives the suite for one test. */
export interface StoreFixture {
  readonly store: KernelStore;
  /** A second handle on the same shared state (another kernel instance), when the adapter has one. */
  readonly peer?: KernelStore;
  readonly cleanup?: () => Promise<void>;
}

const at = '2026-01-01T00:00:00.000Z';
const later = '2026-01-01T00:10:00.000Z';
const t0 = Date.parse(at);

const approvalInit = (id: string, count = 2): PendingApprovalInit => ({
  id,
  actionHash: `sha256:${'a'.repeat(64)}`,
  required: { count, role: 'approver' },
  createdAt: at,
  expiresAt: '2026-01-01T00:05:00.000Z',
});

const res = (
  id: string,
  counter: string,
  amount: number,
  max: number,
  holdUntil = t0 + 60_000,
): Reservation => ({
  id,
  counter,
  amount,
  max,
  holdUntil,
});

/** Registers the shared suite for one `KernelStore` implementation. */
export function runStoreSuite(t: TestApi, name: string, factory: () => Promise<StoreFixture>): void {
  const { describe, it, afterEach, expect } = t;
  describe(`KernelStore conformance: ${name}`, () => {
    let current: StoreFixture | undefined;
    const open = async (): Promise<StoreFixture> => {
      current = await factory();
      return current;
    };
    afterEach(async () => {
      const f = current;
      current = undefined;
      if (f) {
        await f.store.close().catch(() => undefined);
        await f.peer?.close().catch(() => undefined);
        await f.cleanup?.();
      }
    });

    describe('when a permit is consumed', () => {
      it('succeeds exactly once, including across handles', async () => {
        const { store, peer } = await open();
        const other = peer ?? store;
        const hash = `sha256:${'1'.repeat(64)}`;
        expect(await store.isPermitConsumed(hash)).toBe(false);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : other).consumePermit(hash, at)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await other.isPermitConsumed(hash)).toBe(true);
        expect(await store.consumePermit(hash, later)).toBe(false);
      });
      it('keeps different permits independent', async () => {
        const { store } = await open();
        expect(await store.consumePermit(`sha256:${'2'.repeat(64)}`, at)).toBe(true);
        expect(await store.isPermitConsumed(`sha256:${'3'.repeat(64)}`)).toBe(false);
      });
    });

    describe('when instances renew leases', () => {
      it('keeps the last end per instance, visible across handles, and null for one that never held one', async () => {
        const { store, peer } = await open();
        const other = peer ?? store;
        expect(typeof store.renewLease).toBe('function');
        await store.renewLease!('A', 1_000);
        await store.renewLease!('A', 2_000);
        await other.renewLease!('B', 500);
        expect(await other.leaseOf!('A')).toBe(2_000);
        expect(await store.leaseOf!('B')).toBe(500);
        expect(await store.leaseOf!('C')).toBe(null);
      });
    });

    describe('when an approval is pending', () => {
      it('creates it idempotently and reads it back', async () => {
        const { store, peer } = await open();
        const created = await store.createApproval(approvalInit('ap-1'));
        expect(created.status).toBe('pending');
        expect(created.approvers).toEqual([]);
        const again = await store.createApproval({ ...approvalInit('ap-1'), expiresAt: later });
        expect(again.expiresAt).toBe(created.expiresAt);
        const read = await (peer ?? store).getApproval('ap-1');
        expect(read?.required).toEqual({ count: 2, role: 'approver' });
        expect(read?.actionHash).toBe(created.actionHash);
        expect(await store.getApproval('nope')).toBeUndefined();
      });
      it('counts distinct approvers only, even under concurrency', async () => {
        const { store, peer } = await open();
        await store.createApproval(approvalInit('ap-2', 3));
        const results = await Promise.all(
          ['k1', 'k1', 'k2', 'k1', 'k2'].map((kid, i) =>
            (i % 2 === 0 ? store : (peer ?? store)).addApprover('ap-2', {
              kid,
              role: 'approver',
              record: `sha256:${String(i).repeat(64)}`,
              at,
            }),
          ),
        );
        expect(results.filter((r) => r.added)).toHaveLength(2);
        const read = await store.getApproval('ap-2');
        expect(read?.approvers.map((a) => a.kid).sort()).toEqual(['k1', 'k2']);
      });
      it('resolves once (compare-and-set) and then ignores approvers', async () => {
        const { store, peer } = await open();
        await store.createApproval(approvalInit('ap-3'));
        const [a, b] = await Promise.all([
          store.resolveApproval('ap-3', 'approved', later),
          (peer ?? store).resolveApproval('ap-3', 'rejected', later),
        ]);
        expect(a.status).toBe(b.status);
        expect(['approved', 'rejected']).toContain(a.status);
        expect(a.resolvedAt).toBe(later);
        const added = await store.addApprover('ap-3', { kid: 'k9', role: 'approver', record: 'r', at });
        expect(added.added).toBe(false);
        expect(added.approval.approvers).toEqual([]);
      });
      it('lists approvals past their expiry and not others', async () => {
        const { store } = await open();
        await store.createApproval(approvalInit('ap-4'));
        await store.createApproval({ ...approvalInit('ap-5'), expiresAt: '2026-01-02T00:00:00.000Z' });
        expect(await store.listExpiredApprovals(at)).toEqual([]);
        const expired = await store.listExpiredApprovals(later);
        expect(expired.map((a) => a.id)).toEqual(['ap-4']);
        await store.resolveApproval('ap-4', 'expired', later);
        expect(await store.listExpiredApprovals(later)).toEqual([]);
      });
      it('refuses misuse with STORE_MISUSE', async () => {
        const { store } = await open();
        await expect(
          store.addApprover('missing', { kid: 'k', role: 'r', record: 'x', at }),
        ).rejects.toMatchObject({
          code: 'STORE_MISUSE',
        });
        await expect(store.resolveApproval('missing', 'approved', at)).rejects.toBeInstanceOf(KernelError);
        await expect(store.createApproval(approvalInit('ap-6', 0))).rejects.toMatchObject({
          code: 'STORE_MISUSE',
        });
      });
    });

    describe('when counters are reserved', () => {
      it('never lets usage pass max under concurrent reservations', async () => {
        const { store, peer } = await open();
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            (i % 2 === 0 ? store : (peer ?? store)).reserve([res(`r${i}`, 'budget|p:a|0', 7, 100)], t0),
          ),
        );
        expect(results.filter((r) => r.ok)).toHaveLength(14);
        expect(await store.usage('budget|p:a|0', t0)).toBe(98);
        const refused = results.find((r) => !r.ok);
        expect(refused).toMatchObject({ ok: false, counter: 'budget|p:a|0' });
      });
      it('reserves all counters or none', async () => {
        const { store } = await open();
        expect((await store.reserve([res('a1', 'rate|x|0', 1, 1)], t0)).ok).toBe(true);
        const r = await store.reserve([res('b1', 'budget|x|0', 10, 100), res('b2', 'rate|x|0', 1, 1)], t0);
        expect(r).toEqual({ ok: false, counter: 'rate|x|0', usage: 1 });
        expect(await store.usage('budget|x|0', t0)).toBe(0);
      });
      it('keeps settled usage, drops released and expired holds', async () => {
        const { store } = await open();
        await store.reserve([res('s1', 'c', 5, 100), res('s2', 'c', 6, 100)], t0);
        await store.reserve([res('s3', 'c', 7, 100, t0 + 10)], t0);
        expect(await store.usage('c', t0)).toBe(18);
        await store.settle('s1');
        await store.release('s2');
        await store.release('s2');
        expect(await store.usage('c', t0)).toBe(12);
        expect(await store.usage('c', t0 + 10)).toBe(5);
        await store.release('s1');
        expect(await store.usage('c', t0 + 10_000_000)).toBe(5);
      });
      it('keeps a pinned hold counting past its holdUntil until it is settled or released', async () => {
        const { store } = await open();
        await store.reserve([res('p1', 'c', 7, 100, t0 + 10), res('p2', 'c', 3, 100, t0 + 10)], t0);
        await store.pin('p1');
        await store.pin('p1');
        expect(await store.usage('c', t0 + 1_000)).toBe(7);
        await store.release('p1');
        expect(await store.usage('c', t0 + 1_000)).toBe(0);
      });
      it('refuses a reused reservation id or a negative amount', async () => {
        const { store } = await open();
        await store.reserve([res('d1', 'c', 1, 10)], t0);
        await expect(store.reserve([res('d1', 'c', 1, 10)], t0)).rejects.toMatchObject({
          code: 'STORE_MISUSE',
        });
        await expect(store.reserve([res('d2', 'c', -1, 10)], t0)).rejects.toMatchObject({
          code: 'STORE_MISUSE',
        });
      });
    });

    describe('when the store is closed', () => {
      it('fails with STORE_UNAVAILABLE', async () => {
        const { store } = await open();
        await store.close();
        await expect(store.consumePermit('x', at)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
        await expect(store.usage('c', t0)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      });
    });
  });
}
