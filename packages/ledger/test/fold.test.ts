import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  apply,
  approvalStatus,
  attemptsWithoutOutcome,
  consumedPermits,
  counterUsage,
  emptyLedger,
  outstandingPermits,
  prune,
  restoreSnapshot,
  snapshotMatches,
  permitBody,
  snapshotSizeFloor,
  snapshotState,
  SnapshotError,
  unfinished,
  usageAt,
  heldEntries,
  type LedgerRecord,
  type LedgerState,
  type Violation,
} from '@edca/ledger';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const POLICY = `sha256:${'a'.repeat(64)}`;
const iso = (ms: number): string => new Date(ms).toISOString();
const h = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

/** Builds records the way the kernel writes them (format 2), numbered and hashed by seq. */
function journal() {
  let seq = 0;
  const out: LedgerRecord[] = [];
  const add = (type: string, atMs: number, body: Record<string, unknown>): string => {
    seq += 1;
    const hash = h(seq);
    out.push({ record: { type, seq, at: iso(atMs), kid: 'ed25519:kernel', body }, hash });
    return hash;
  };
  add('policy.activated', T0, { policyDigest: POLICY, name: 'm', version: '1', owner: 'o' });
  return {
    records: out,
    permit(
      atMs: number,
      action: string,
      counters: { counter: string; amount: number; max: number }[] = [],
      extra = {},
    ) {
      return add('decision', atMs, {
        verdict: 'permit',
        actionHash: action,
        policyDigest: POLICY,
        input: { proposal: { intent: 'x', params: {} }, approvals: [] },
        expiresAt: iso(atMs + 1000),
        hold: {
          id: `hold-${seq}`,
          counters: counters.map((c) => ({ key: 'k', ...c, windowEnd: T0 + 3_600_000 })),
        },
        ...extra,
      });
    },
    escalate(atMs: number, action: string, count = 1) {
      return add('decision', atMs, {
        verdict: 'escalate',
        actionHash: action,
        policyDigest: POLICY,
        input: { proposal: { intent: 'x', params: {} } },
        pendingApproval: { count, role: 'approver', expiresAt: iso(atMs + 60_000) },
      });
    },
    approve(atMs: number, id: string, action: string, kid: string, verdict = 'approve') {
      return add('approval', atMs, {
        decision: id,
        actionHash: action,
        verdict,
        approver: { kid, role: 'approver' },
      });
    },
    attempt(atMs: number, permit: string, action: string, tryNo = 1, instance = 'i1') {
      return add('attempt', atMs, {
        permit,
        actionHash: action,
        idempotencyKey: permit,
        try: tryNo,
        instance,
      });
    },
    outcome(atMs: number, attempt: string, permit: string, status: string) {
      return add('outcome', atMs, { attempt, permit, status });
    },
  };
}

function fold(records: readonly LedgerRecord[]): { state: LedgerState; violations: Violation[] } {
  let state = emptyLedger();
  const violations: Violation[] = [];
  for (const r of records) {
    const next = apply(state, r);
    state = next.state;
    violations.push(...next.violations);
  }
  return { state, violations };
}

const A = `sha256:${'b'.repeat(64)}`;

describe('ledger fold', () => {
  describe('when a permit runs', () => {
    it('moves it from outstanding to consumed, holds then settles its usage', () => {
      const j = journal();
      const p = j.permit(T0 + 1, A, [{ counter: 'c', amount: 30, max: 100 }]);
      let { state } = fold(j.records);
      expect(outstandingPermits(state, T0 + 2).map((x) => x.hash)).toEqual([p]);
      expect(counterUsage(state, 'c', T0 + 2)).toEqual({ held: 30, settled: 0 });
      const at = j.attempt(T0 + 3, p, A);
      ({ state } = fold(j.records));
      expect(attemptsWithoutOutcome(state).map((a) => a.hash)).toEqual([at]);
      // Held while the handler runs, even past the permit's expiry.
      expect(counterUsage(state, 'c', T0 + 5000)).toEqual({ held: 30, settled: 0 });
      j.outcome(T0 + 4, at, p, 'completed');
      const last = fold(j.records);
      state = last.state;
      expect(consumedPermits(state).map((x) => x.status)).toEqual(['completed']);
      expect(counterUsage(state, 'c', T0 + 5000)).toEqual({ held: 0, settled: 30 });
      expect(last.violations).toEqual([]);
    });

    it('lets an unattempted permit hold lapse at its expiry, and a failed one release', () => {
      const j = journal();
      j.permit(T0 + 1, A, [{ counter: 'c', amount: 30, max: 100 }]);
      const p2 = j.permit(T0 + 2, A, [{ counter: 'c', amount: 20, max: 100 }]);
      const at = j.attempt(T0 + 3, p2, A);
      j.outcome(T0 + 4, at, p2, 'failed');
      const { state } = fold(j.records);
      expect(counterUsage(state, 'c', T0 + 10)).toEqual({ held: 30, settled: 0 });
      expect(counterUsage(state, 'c', T0 + 1001)).toEqual({ held: 0, settled: 0 });
    });

    it('names a permit used twice, an attempt without permit, an outcome twice and an overrun', () => {
      const j = journal();
      const p = j.permit(T0 + 1, A, [{ counter: 'c', amount: 80, max: 100 }]);
      j.permit(T0 + 2, A, [{ counter: 'c', amount: 80, max: 100 }]);
      const at = j.attempt(T0 + 3, p, A);
      j.outcome(T0 + 4, at, p, 'completed');
      j.outcome(T0 + 5, at, p, 'failed');
      j.attempt(T0 + 6, p, A);
      j.attempt(T0 + 7, h(999), A);
      const codes = fold(j.records).violations.map((v) => [v.seq, v.code]);
      expect(codes).toEqual([
        [3, 'LIMIT_OVERRUN'],
        [6, 'OUTCOME_DUPLICATE'],
        [7, 'PERMIT_REUSED'],
        [8, 'ATTEMPT_WITHOUT_PERMIT'],
      ]);
    });
  });

  describe('when a retried execution reports an outcome for an earlier try', () => {
    it('names OUTCOME_SUPERSEDED: the kernel writes the outcome of the last try only', () => {
      const j = journal();
      const p = j.permit(T0 + 1, A);
      const try1 = j.attempt(T0 + 2, p, A, 1);
      const try2 = j.attempt(T0 + 3, p, A, 2);
      j.outcome(T0 + 4, try2, p, 'failed');
      j.outcome(T0 + 5, try1, p, 'completed');
      expect(fold(j.records).violations.map((v) => [v.seq, v.code])).toEqual([[6, 'OUTCOME_SUPERSEDED']]);
    });
  });

  describe('when an escalation is approved', () => {
    it('grants it once enough approvers agree, and lets one permit use it', () => {
      const j = journal();
      const e = j.escalate(T0 + 1, A, 2);
      j.approve(T0 + 2, e, A, 'k1');
      j.approve(T0 + 3, e, A, 'k1');
      let { state } = fold(j.records);
      expect(approvalStatus(state.approvals.get(e)!, T0 + 4)).toBe('pending');
      j.approve(T0 + 4, e, A, 'k2');
      ({ state } = fold(j.records));
      expect(approvalStatus(state.approvals.get(e)!, T0 + 5)).toBe('granted');
      const approvals = [
        { kid: 'k1', role: 'approver' },
        { kid: 'k2', role: 'approver' },
      ];
      const input = { proposal: { intent: 'x', params: {} }, approvals };
      j.permit(T0 + 5, A, [], { input, approval: e });
      ({ state } = fold(j.records));
      expect(approvalStatus(state.approvals.get(e)!, T0 + 6)).toBe('used');
      j.permit(T0 + 6, A, [], { input, approval: e });
      expect(fold(j.records).violations.map((v) => v.code)).toEqual(['APPROVAL_REUSED']);
    });

    it('infers the used approval for permits of older journals (no `approval` field)', () => {
      const j = journal();
      const e = j.escalate(T0 + 1, A, 1);
      j.approve(T0 + 2, e, A, 'k1');
      const input = { proposal: { intent: 'x', params: {} }, approvals: [{ kid: 'k1', role: 'approver' }] };
      j.permit(T0 + 3, A, [], { input, hold: undefined });
      j.permit(T0 + 4, A, [], { input, hold: undefined });
      const { state, violations } = fold(j.records);
      expect(state.approvals.get(e)!.usedBy).toBe(h(4));
      expect(violations.map((v) => [v.seq, v.code])).toEqual([[5, 'APPROVAL_REUSED']]);
    });

    it('reports rejection and expiry, and escalations nothing answered', () => {
      const j = journal();
      const e1 = j.escalate(T0 + 1, A);
      const e2 = j.escalate(T0 + 2, `sha256:${'c'.repeat(64)}`);
      j.approve(T0 + 3, e1, A, 'k1', 'reject');
      const { state } = fold(j.records);
      expect(approvalStatus(state.approvals.get(e1)!, T0 + 4)).toBe('rejected');
      expect(approvalStatus(state.approvals.get(e2)!, T0 + 60_002)).toBe('expired');
      expect(unfinished(state).map((u) => u.kind)).toEqual(['escalation-unresolved']);
    });

    it('keeps a rejection final: a later approval grants nothing and a permit naming it is APPROVAL_INVALID', () => {
      const j = journal();
      const e = j.escalate(T0 + 1, A);
      j.approve(T0 + 2, e, A, 'k1', 'reject');
      j.approve(T0 + 3, e, A, 'k2');
      let { state, violations } = fold(j.records);
      expect(violations).toEqual([]);
      expect(approvalStatus(state.approvals.get(e)!, T0 + 4)).toBe('rejected');
      const input = { proposal: { intent: 'x', params: {} }, approvals: [{ kid: 'k2', role: 'approver' }] };
      j.permit(T0 + 5, A, [], { input, approval: e });
      ({ state, violations } = fold(j.records));
      expect(violations.map((v) => v.code)).toEqual(['APPROVAL_INVALID']);
      expect(approvalStatus(state.approvals.get(e)!, T0 + 6)).toBe('rejected');
    });
  });

  describe('when attempts come from several instances', () => {
    it('lists an instance only its own attempts without outcome', () => {
      const j = journal();
      const p1 = j.permit(T0 + 1, A);
      const p2 = j.permit(T0 + 2, A);
      const a1 = j.attempt(T0 + 3, p1, A, 1, 'i1');
      const a2 = j.attempt(T0 + 4, p2, A, 1, 'i2');
      const { state } = fold(j.records);
      expect(attemptsWithoutOutcome(state, 'i1').map((a) => a.hash)).toEqual([a1]);
      expect(attemptsWithoutOutcome(state, 'i2').map((a) => a.hash)).toEqual([a2]);
      expect(attemptsWithoutOutcome(state)).toHaveLength(2);
    });
  });

  describe('when the record type or body is unknown', () => {
    it('names the record instead of throwing', () => {
      const r: LedgerRecord = {
        record: { type: 'nope', seq: 1, at: iso(T0), kid: 'k', body: {} },
        hash: h(1),
      };
      expect(apply(emptyLedger(), r).violations.map((v) => v.code)).toEqual(['BODY_INVALID']);
    });
  });
});

/** A random, kernel-like journal: permits on a few counters, attempts, outcomes, escalations. */
const steps = fc.array(
  fc.oneof(
    fc.record({
      op: fc.constant('permit'),
      c: fc.integer({ min: 0, max: 2 }),
      amount: fc.integer({ min: 0, max: 40 }),
    }),
    fc.record({ op: fc.constant('attempt'), i: fc.nat() }),
    fc.record({
      op: fc.constant('outcome'),
      i: fc.nat(),
      status: fc.constantFrom('completed', 'failed', 'unknown'),
    }),
    fc.record({ op: fc.constant('wait'), ms: fc.integer({ min: 1, max: 1500 }) }),
  ),
  { maxLength: 60 },
);

function build(ops: { op: string; [k: string]: unknown }[]) {
  const j = journal();
  let t = T0 + 1;
  const permits: string[] = [];
  const attempts: [string, string][] = [];
  // What a correct ledger must have charged: per counter, the amounts of permits some outcome said ran.
  const ran = new Map<string, number>();
  const counterOf = new Map<string, [string, number]>();
  for (const s of ops) {
    t += 1;
    if (s.op === 'permit') {
      const counter = `c${String(s['c'])}`;
      const p = j.permit(t, A, [{ counter, amount: s['amount'] as number, max: 1e9 }]);
      permits.push(p);
      counterOf.set(p, [counter, s['amount'] as number]);
    } else if (s.op === 'attempt' && permits.length > 0) {
      const p = permits[(s['i'] as number) % permits.length]!;
      attempts.push([j.attempt(t, p, A), p]);
    } else if (s.op === 'outcome' && attempts.length > 0) {
      const [a, p] = attempts[(s['i'] as number) % attempts.length]!;
      j.outcome(t, a, p, s['status'] as string);
      if (s['status'] !== 'failed' && !ran.has(p)) ran.set(p, counterOf.get(p)![1]);
    } else if (s.op === 'wait') t += s['ms'] as number;
  }
  const charged = (c: string): number =>
    [...ran].reduce((sum, [p, amount]) => sum + (counterOf.get(p)![0] === c ? amount : 0), 0);
  return { records: j.records, end: t, charged };
}

describe('ledger fold properties', () => {
  it('folds to the same state in one pass or resumed from a copy at any point (a snapshot)', () => {
    fc.assert(
      fc.property(steps, fc.nat(), (ops, cut) => {
        const { records } = build(ops);
        const k = cut % (records.length + 1);
        const whole = fold(records);
        const first = fold(records.slice(0, k));
        let state = structuredClone(first.state);
        const violations = [...first.violations];
        for (const r of records.slice(k)) {
          const next = apply(state, r);
          state = next.state;
          violations.push(...next.violations);
        }
        expect(state).toEqual(whole.state);
        expect(violations).toEqual(whole.violations);
      }),
    );
  });

  it('never counts less than what may have run, and pruning never changes live usage', () => {
    fc.assert(
      fc.property(steps, (ops) => {
        const { records, end, charged } = build(ops);
        const { state } = fold(records);
        for (const c of ['c0', 'c1', 'c2']) {
          const expected = charged(c);
          const before = counterUsage(state, c, end);
          expect(before.settled).toBe(expected);
          expect(before.held).toBeGreaterThanOrEqual(0);
          const pruned = structuredClone(state);
          prune(pruned, end);
          expect(counterUsage(pruned, c, end)).toEqual(before);
        }
      }),
    );
  });
});

/** Usage as the definition states it, summing every hold: what the incremental totals must equal. */
function usageByDefinition(state: LedgerState, counter: string, nowMs: number): number {
  const entry = state.counters.get(counter);
  if (entry === undefined) return 0;
  let total = entry.settled;
  for (const [hash, amount] of heldEntries(entry)) {
    const p = state.permits.get(hash);
    if (p !== undefined && (p.status !== 'outstanding' || p.expiresAtMs > nowMs)) total += amount;
  }
  return total;
}

describe('incremental limit usage', () => {
  it('equals the sum over every hold, asked at instants going back and forth, with prunes between (property)', () => {
    fc.assert(
      fc.property(
        steps,
        fc.array(fc.integer({ min: -2500, max: 2500 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.boolean(), { maxLength: 60 }),
        (ops, offsets, prunes) => {
          const { records } = build(ops);
          const state = emptyLedger();
          for (const [i, r] of records.entries()) {
            apply(state, r);
            const at = Date.parse(r.record.at);
            if (prunes[i] === true) prune(state, at - 500);
            for (const offset of offsets) {
              for (const c of ['c0', 'c1', 'c2']) {
                expect(usageAt(state, c, at + offset)).toBe(usageByDefinition(state, c, at + offset));
                const entry = state.counters.get(c);
                if (entry !== undefined)
                  expect(entry.heldTotal).toBe(heldEntries(entry).reduce((a, [, b]) => a + b, 0));
              }
            }
          }
          // The queue holds exactly the live permits.
          expect(new Set(state.expiries.items)).toEqual(new Set(state.permits.values()));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('ledger snapshots', () => {
  const iso2 = (ms: number): string => new Date(ms).toISOString();

  it('restores a pruned snapshot that folds on to what the whole journal means (property)', () => {
    let sound = 0;
    let floorCounted = 0;
    fc.assert(
      fc.property(steps, fc.nat(), fc.integer({ min: 0, max: 3000 }), (ops, cut, later) => {
        const { records, end } = build(ops);
        const k = 1 + (cut % records.length);
        const before = records.slice(0, k);
        const whole = fold(records);
        // A journal that breaks a rule (an attempt on an expired permit) means what its auditor
        // says; the kernel never writes one, and a snapshot makes no promise about it.
        if (whole.violations.length > 0) return;
        sound += 1;
        const full = whole.state;
        // The writer: its live state pruned at some instant after the last record it folded.
        const live = fold(before).state;
        // Never after the next record: a snapshot is dated when it is written, before what follows.
        const next = records[k] === undefined ? Infinity : Date.parse(records[k].record.at);
        const prunedAtMs = Math.min(Date.parse(before.at(-1)!.record.at) + later, next);
        prune(live, prunedAtMs);
        const body = {
          through: k,
          prunedAt: iso2(prunedAtMs),
          state: JSON.parse(JSON.stringify(snapshotState(live, prunedAtMs))) as never,
        };
        // The writer's size floor never exceeds what it would write, and counts every kept permit.
        const floor = snapshotSizeFloor(live, prunedAtMs);
        expect(floor).toBeLessThanOrEqual(JSON.stringify(body).length);
        if (live.permits.size > 0) floorCounted += 1;
        expect(floor > 0).toBe(live.permits.size > 0);
        // The auditor: the full fold up to `through` gives the same snapshot.
        expect(snapshotMatches(fold(before).state, body)).toBe(true);
        // The restart: from the snapshot, then every later record.
        let state = restoreSnapshot(body, prunedAtMs);
        for (const r of records.slice(k)) state = apply(state, r).state;
        const at = Math.max(end, prunedAtMs);
        expect(snapshotState(state, at)).toEqual(snapshotState(full, at));
        for (const c of ['c0', 'c1', 'c2'])
          expect(counterUsage(state, c, at)).toEqual(counterUsage(full, c, at));
        expect(attemptsWithoutOutcome(state).map((a) => a.hash)).toEqual(
          attemptsWithoutOutcome(full)
            .filter((a) => state.attempts.has(a.hash))
            .map((a) => a.hash),
        );
      }),
      { numRuns: 400 },
    );
    expect(sound).toBeGreaterThan(100);
    expect(floorCounted).toBeGreaterThan(50);
  });

  it('keeps a permit given with its line as that line, and reads the same body and snapshot from it (property)', () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(steps, fc.integer({ min: 0, max: 3000 }), (ops, later) => {
        const { records, end } = build(ops);
        const lined = records.map((r) => ({ ...r, bytes: encoder.encode(JSON.stringify(r.record)) }));
        const plain = fold(records).state;
        const fromLines = fold(lined).state;
        for (const [hash, p] of plain.permits) {
          const kept = fromLines.permits.get(hash)!;
          expect(kept.body).toBeUndefined();
          expect(permitBody(kept)).toEqual(p.body);
          expect(permitBody(structuredClone(kept))).toEqual(p.body);
        }
        const at = end + later;
        expect(snapshotState(fromLines, at)).toEqual(snapshotState(plain, at));
      }),
      { numRuns: 100 },
    );
  });

  it('finds a snapshot that differs from the fold before it, and refuses a malformed one', () => {
    const j = journal();
    const p = j.permit(T0 + 1, A, [{ counter: 'c', amount: 30, max: 100 }]);
    const a = j.attempt(T0 + 2, p, A);
    j.outcome(T0 + 3, a, p, 'completed');
    const { state } = fold(j.records);
    const snap = snapshotState(state, T0 + 3) as { counters: { settled: number }[] };
    const body = { through: 4, prunedAt: iso2(T0 + 3), state: snap as never };
    expect(snapshotMatches(state, body)).toBe(true);
    snap.counters[0]!.settled = 0;
    expect(snapshotMatches(state, body)).toBe(false);
    expect(snapshotMatches(state, { ...body, prunedAt: 'not a time' })).toBe(false);
    expect(() => restoreSnapshot({ ...body, state: { permits: 1 } }, T0)).toThrow(SnapshotError);
  });
});

describe('apply on policy activations and shadows (record format 3)', () => {
  const OTHER = `sha256:${'b'.repeat(64)}`;
  const at = iso(T0);
  const rec = (seq: number, type: string, body: Record<string, unknown>): LedgerRecord => ({
    record: { type, seq, at, kid: 'ed25519:kernel', body },
    hash: h(seq),
  });
  const activated = (seq: number, digest: string, revision: number, map = 'm'): LedgerRecord =>
    rec(seq, 'policy.activated', {
      policyDigest: digest,
      name: 'm',
      version: '1',
      owner: 'o',
      activation: {
        statement: {
          map,
          mapDigest: digest,
          revision,
          owner: { kid: 'ed25519:owner', role: 'policy-owner' },
        },
        sig: 'x',
      },
    });
  const run = (records: LedgerRecord[]): { state: LedgerState; violations: Violation[] } => {
    const state = emptyLedger();
    const violations: Violation[] = [];
    for (const r of records) violations.push(...apply(state, r).violations);
    return { state, violations };
  };

  describe('when the state goes through a snapshot', () => {
    it('keeps the latest activation of each map and the revision of each digest: a rollback after it is still one', () => {
      const { state } = run([activated(1, POLICY, 1), activated(2, OTHER, 2)]);
      const restored = restoreSnapshot({ through: 2, prunedAt: at, state: snapshotState(state, T0) }, T0);
      expect(restored.activations).toEqual(state.activations);
      expect(restored.revisions).toEqual(state.revisions);
      expect(apply(restored, activated(3, POLICY, 2)).violations.map((v) => v.code)).toEqual([
        'ACTIVATION_ROLLBACK',
      ]);
    });
  });

  describe('when revisions go up, and one goes back', () => {
    it('tracks the latest revision per map and the governing revision per digest, and reports ACTIVATION_ROLLBACK', () => {
      const { state, violations } = run([
        activated(1, POLICY, 1),
        activated(2, OTHER, 2),
        activated(3, POLICY, 3),
        activated(4, OTHER, 3),
      ]);
      expect(violations.map((v) => [v.seq, v.code])).toEqual([[4, 'ACTIVATION_ROLLBACK']]);
      expect(state.activations.get('m')).toMatchObject({ policyDigest: POLICY, revision: 3, seq: 3 });
      expect(state.revisions.get(POLICY)).toBe(3);
      expect(state.revisions.get(OTHER)).toBe(2);
    });
  });

  describe('when a statement names another map than its record', () => {
    it('reports ACTIVATION_MISMATCH and does not count the revision', () => {
      const { state, violations } = run([activated(1, POLICY, 7, 'another-map')]);
      expect(violations.map((v) => v.code)).toEqual(['ACTIVATION_MISMATCH']);
      expect(state.activations.size).toBe(0);
    });
  });

  describe('when an attempt runs a shadow record', () => {
    it('reports SHADOW_EXECUTED, and the shadow holds no usage', () => {
      const { state, violations } = run([
        activated(1, POLICY, 1),
        rec(2, 'shadow', { decision: h(1), verdict: 'permit', policyDigest: OTHER }),
        rec(3, 'attempt', { permit: h(2), actionHash: h(9), idempotencyKey: 'k', try: 1 }),
      ]);
      expect(violations.map((v) => [v.seq, v.code])).toEqual([[3, 'SHADOW_EXECUTED']]);
      expect(state.permits.size).toBe(0);
      expect(state.counters.size).toBe(0);
    });
  });
});
