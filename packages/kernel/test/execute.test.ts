import { afterEach, describe, expect, it } from 'vitest';
import { createNodeSigner, generateKeyPair, sealRecord } from '@edca/records';
import type { AppendedRecord, Permit } from '@edca/kernel';
import type { KernelContext } from '../src/internal/context.js';
import { readPermit } from '../src/internal/execute.js';
import { createHeldPermits } from '../src/internal/holds.js';
import { agent, makeHarness, type Harness } from './support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const ctx = (harness: Harness) => ({ session: harness.session, ...agent });

async function records(harness: Harness): Promise<AppendedRecord[]> {
  const out: AppendedRecord[] = [];
  for await (const r of harness.journal.read()) out.push(r);
  return out;
}

async function permitFor(harness: Harness, id = 'P-1', intent = 'hold_payment'): Promise<Permit> {
  const d = await harness.kernel.decide({ intent, params: { payment: harness.refFor(id) } }, ctx(harness));
  if (!d.permit) throw new Error(`expected a permit, got ${d.verdict} ${d.reasons.join()}`);
  return d.permit;
}

describe('execute', () => {
  describe('when a valid permit is executed', () => {
    it('journals the attempt before the handler runs and the outcome with the transition after', async () => {
      h = await makeHarness();
      const harness = h;
      const permit = await permitFor(harness);
      let seenAtRun: Promise<AppendedRecord[]> | undefined;
      // Observe the journal from inside the handler: the last durable record must be our attempt.
      const original = harness.bank.rows.get('P-1')!;
      Object.defineProperty(original, 'STATUS_CD', {
        configurable: true,
        get: () => 'SETL',
        set: () => {
          // read() snapshots the durable end synchronously, i.e. at the moment the handler writes.
          seenAtRun = records(harness);
        },
      });
      const r = await harness.kernel.execute(permit, { session: harness.session });
      Object.defineProperty(original, 'STATUS_CD', { value: 'HOLD', writable: true, configurable: true });
      expect(r).toMatchObject({
        status: 'completed',
        permit: permit.hash,
        transition: { machine: 'payment', from: 'settled', to: 'held' },
      });
      const all = await records(harness);
      const attempt = all.find((x) => x.record.type === 'attempt')!;
      const outcome = all.find((x) => x.record.type === 'outcome')!;
      expect((await seenAtRun!).at(-1)?.hash).toBe(attempt.hash);
      expect(attempt.record.body).toEqual({
        permit: permit.hash,
        actionHash: (permit.record.body as { actionHash: string }).actionHash,
        idempotencyKey: permit.hash,
        try: 1,
        instance: 'default',
      });
      expect(outcome.record.body).toEqual({
        attempt: attempt.hash,
        permit: permit.hash,
        status: 'completed',
        transition: { machine: 'payment', from: 'settled', to: 'held' },
      });
      expect(all.findIndex((x) => x.hash === permit.hash)).toBeLessThan(all.indexOf(attempt));
      expect(harness.bank.effects).toEqual([{ handler: 'pay.hold', key: permit.hash, id: 'P-1' }]);
    });
  });

  describe('when the deciding process executes without a context', () => {
    it('uses the session the permit was decided in', async () => {
      h = await makeHarness();
      const permit = await permitFor(h);
      expect(await h.kernel.execute(permit)).toMatchObject({ status: 'completed' });
    });
  });

  describe('when a permit is used twice', () => {
    it('refuses the second use with PERMIT_CONSUMED, also under concurrency', async () => {
      h = await makeHarness();
      const permit = await permitFor(h);
      const results = await Promise.all(
        Array.from({ length: 8 }, () => h!.kernel.execute(permit, { session: h!.session })),
      );
      expect(results.filter((r) => r.status === 'completed')).toHaveLength(1);
      const codes = results.map((r) => (r.status === 'refused' ? r.code : r.status));
      expect(codes.filter((c) => c === 'PERMIT_CONSUMED' || c === 'STALE_STATE')).toHaveLength(7);
      const again = await h.kernel.execute(permit, { session: h.session });
      expect(again).toMatchObject({ status: 'refused', code: 'PERMIT_CONSUMED' });
      expect(h.bank.effects).toHaveLength(1);
    });
  });

  describe('when the permit has expired', () => {
    it('refuses with PERMIT_EXPIRED and runs nothing', async () => {
      h = await makeHarness();
      const permit = await permitFor(h);
      h.clock.advance(5 * 60_000);
      expect(await h.kernel.execute(permit, { session: h.session })).toMatchObject({
        status: 'refused',
        code: 'PERMIT_EXPIRED',
      });
      expect(h.bank.effects).toEqual([]);
    });
  });

  describe('when the permit is not genuine', () => {
    it('refuses a tampered permit with PERMIT_INVALID', async () => {
      h = await makeHarness();
      const permit = await permitFor(h);
      const body = {
        ...(permit.record.body as Record<string, unknown>),
        expiresAt: '2099-01-01T00:00:00.000Z',
      };
      const forged: Permit = { record: { ...permit.record, body }, hash: permit.hash };
      expect(await h.kernel.execute(forged, { session: h.session })).toMatchObject({
        status: 'refused',
        code: 'PERMIT_INVALID',
      });
    });

    it('refuses a permit signed by another key with PERMIT_INVALID', async () => {
      h = await makeHarness();
      const permit = await permitFor(h);
      const other = createNodeSigner(generateKeyPair().privateKeyPem);
      const { sig: _sig, ...unsigned } = permit.record;
      const sealed = await sealRecord({ ...unsigned, kid: other.kid }, other);
      expect(
        await h.kernel.execute({ record: sealed.record, hash: sealed.hash }, { session: h.session }),
      ).toMatchObject({
        status: 'refused',
        code: 'PERMIT_INVALID',
      });
    });

    it('refuses a refusal record presented as a permit with PERMIT_INVALID', async () => {
      h = await makeHarness();
      const d = await h.kernel.decide({ intent: 'wire_money', params: {} }, ctx(h));
      const all = await records(h);
      const rec = all.find((x) => x.hash === d.record!.hash)!;
      expect(
        await h.kernel.execute({ record: rec.record, hash: rec.hash }, { session: h.session }),
      ).toMatchObject({
        status: 'refused',
        code: 'PERMIT_INVALID',
      });
    });

    it('refuses a permit whose signature was changed, its body and hash kept, with PERMIT_INVALID', async () => {
      h = await makeHarness();
      const permit = await permitFor(h);
      const sig = permit.record.sig;
      const flipped = `${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
      const forged: Permit = { record: { ...permit.record, sig: flipped }, hash: permit.hash };
      expect(await h.kernel.execute(forged, { session: h.session })).toMatchObject({
        status: 'refused',
        code: 'PERMIT_INVALID',
      });
      // The genuine permit still runs: the forgery consumed nothing.
      expect(await h.kernel.execute(permit, { session: h.session })).toMatchObject({ status: 'completed' });
    });

    it('refuses a permit whose hash does not match with PERMIT_INVALID', async () => {
      h = await makeHarness();
      const a = await permitFor(h, 'P-1');
      const b = await permitFor(h, 'P-2');
      expect(
        await h.kernel.execute({ record: a.record, hash: b.hash }, { session: h.session }),
      ).toMatchObject({
        status: 'refused',
        code: 'PERMIT_INVALID',
      });
    });
  });

  describe('reading a permit (readPermit)', () => {
    // A kernel context whose key is not the one the permit was signed with: only the bytes this
    // process journaled for the permit (`held`) can make it read as genuine.
    async function withWrongKey(): Promise<{ permit: Permit; line: Uint8Array; ctx: KernelContext }> {
      h = await makeHarness();
      const permit = await permitFor(h);
      const line = (await records(h)).find((r) => r.hash === permit.hash)!.bytes;
      const ctx = {
        signer: { kid: permit.record.kid, publicKey: generateKeyPair().publicKey },
        held: createHeldPermits(),
      } as unknown as KernelContext;
      return { permit, line, ctx };
    }

    it('takes a permit presented with exactly the line this process journaled for it without checking its signature again', async () => {
      const { permit, line, ctx } = await withWrongKey();
      expect(readPermit(ctx, permit)).toMatchObject({ status: 'refused', code: 'PERMIT_INVALID' });
      ctx.held.add(permit.hash, { ids: [], until: Number.MAX_SAFE_INTEGER, line }, 0);
      expect(readPermit(ctx, permit)).toMatchObject({ body: { verdict: 'permit' } });
      // The same record after a trip through JSON: the same bytes.
      const copy = JSON.parse(JSON.stringify(permit)) as Permit;
      expect(readPermit(ctx, copy)).toMatchObject({ body: { verdict: 'permit' } });
    });

    it('checks the signature of any other bytes presented under that permit hash', async () => {
      const { permit, line, ctx } = await withWrongKey();
      ctx.held.add(permit.hash, { ids: [], until: Number.MAX_SAFE_INTEGER, line }, 0);
      const body = {
        ...(permit.record.body as Record<string, unknown>),
        expiresAt: '2099-01-01T00:00:00.000Z',
      };
      const changed: Permit = { record: { ...permit.record, body }, hash: permit.hash };
      expect(readPermit(ctx, changed)).toMatchObject({ status: 'refused', code: 'PERMIT_INVALID' });
      // Under its own key the same changed record is refused too (the full check), and the
      // unchanged one reads as genuine without `held`.
      const own = { signer: h!.signer, held: createHeldPermits() } as unknown as KernelContext;
      expect(readPermit(own, changed)).toMatchObject({ status: 'refused', code: 'PERMIT_INVALID' });
      expect(readPermit(own, permit)).toMatchObject({ body: { verdict: 'permit' } });
    });
  });

  describe('when the state changed after the permit', () => {
    it('refuses with STALE_STATE and runs nothing', async () => {
      h = await makeHarness();
      const permit = await permitFor(h);
      h.bank.rows.get('P-1')!.STATUS_CD = 'PEND';
      expect(await h.kernel.execute(permit, { session: h.session })).toMatchObject({
        status: 'refused',
        code: 'STALE_STATE',
      });
      expect(h.bank.effects).toEqual([]);
    });
  });

  describe('when the handler throws', () => {
    it('retries with the same idempotency key, then records a failed outcome (HANDLER_FAILED)', async () => {
      h = await makeHarness();
      const permit = await permitFor(h);
      h.bank.faults.set('pay.hold', 'throw');
      const r = await h.kernel.execute(permit, { session: h.session });
      expect(r).toMatchObject({ status: 'failed', error: { code: 'HANDLER_FAILED' } });
      const all = await records(h);
      const attempts = all
        .filter((x) => x.record.type === 'attempt')
        .map((x) => x.record.body as Record<string, unknown>);
      expect(attempts.map((a) => a['try'])).toEqual([1, 2]);
      expect(new Set(attempts.map((a) => a['idempotencyKey']))).toEqual(new Set([permit.hash]));
      const outcome = all.find((x) => x.record.type === 'outcome')!;
      expect(outcome.record.body).toMatchObject({ status: 'failed', error: { code: 'HANDLER_FAILED' } });
      expect(outcome.record.body).not.toHaveProperty('transition');
    });
  });

  describe('when the handler says its failure is final (HandlerError final: true)', () => {
    it('tries once and records a failed outcome (HANDLER_FAILED_FINAL)', async () => {
      h = await makeHarness();
      const permit = await permitFor(h);
      h.bank.faults.set('pay.hold', 'final');
      const r = await h.kernel.execute(permit, { session: h.session });
      expect(r).toMatchObject({ status: 'failed', error: { code: 'HANDLER_FAILED_FINAL' } });
      const all = await records(h);
      expect(all.filter((x) => x.record.type === 'attempt')).toHaveLength(1);
      const outcome = all.find((x) => x.record.type === 'outcome')!;
      expect(outcome.record.body).toMatchObject({
        status: 'failed',
        error: { code: 'HANDLER_FAILED_FINAL' },
      });
    });

    it('does not open the circuit: the handler answered', async () => {
      h = await makeHarness({ overrides: { breaker: { threshold: 2, cooldownMs: 1000 }, retries: 0 } });
      h.bank.faults.set('pay.hold', 'final');
      for (const id of ['P-1', 'P-2', 'P-3']) {
        const p = await permitFor(h, id);
        expect(await h.kernel.execute(p, { session: h.session })).toMatchObject({ status: 'failed' });
      }
    });
  });

  describe('when the handler fails transiently once (HandlerError without final)', () => {
    it('tries again with the same idempotency key and completes', async () => {
      h = await makeHarness();
      const permit = await permitFor(h);
      h.bank.faults.set('pay.hold', 'flaky');
      const r = await h.kernel.execute(permit, { session: h.session });
      expect(r).toMatchObject({ status: 'completed' });
      const attempts = (await records(h))
        .filter((x) => x.record.type === 'attempt')
        .map((x) => x.record.body as Record<string, unknown>);
      expect(attempts.map((a) => a['try'])).toEqual([1, 2]);
      expect(h.bank.effects).toHaveLength(1);
    });
  });

  describe('when the handler hangs', () => {
    it('times out, records an unknown outcome (HANDLER_TIMEOUT) and escalates it (OUTCOME_UNKNOWN)', async () => {
      h = await makeHarness();
      const permit = await permitFor(h);
      h.bank.faults.set('pay.hold', 'hang');
      const r = await h.kernel.execute(permit, { session: h.session });
      expect(r).toMatchObject({ status: 'unknown', error: { code: 'HANDLER_TIMEOUT' } });
      const all = await records(h);
      const outcome = all.find((x) => x.record.type === 'outcome')!;
      expect(outcome.record.body).toMatchObject({ status: 'unknown' });
      const escalation = all.at(-1)!;
      expect(escalation.record.type).toBe('decision');
      expect(escalation.record.body).toMatchObject({ verdict: 'escalate', reasons: ['OUTCOME_UNKNOWN'] });
      expect((await h.kernel.store.getApproval(escalation.hash))?.status).toBe('pending');
    });
  });

  describe('when a handler keeps failing', () => {
    it('opens its circuit (CIRCUIT_OPEN) without consuming the permit, and closes after the cooldown', async () => {
      h = await makeHarness({ overrides: { breaker: { threshold: 2, cooldownMs: 1000 }, retries: 0 } });
      h.bank.faults.set('pay.hold', 'throw');
      for (const id of ['P-1', 'P-2']) {
        const p = await permitFor(h, id);
        expect(await h.kernel.execute(p, { session: h.session })).toMatchObject({ status: 'failed' });
      }
      const p3 = await permitFor(h, 'P-3');
      expect(await h.kernel.execute(p3, { session: h.session })).toMatchObject({
        status: 'refused',
        code: 'CIRCUIT_OPEN',
      });
      expect(await h.kernel.store.isPermitConsumed(p3.hash)).toBe(false);
      h.bank.faults.clear();
      h.clock.advance(1000);
      expect(await h.kernel.execute(p3, { session: h.session })).toMatchObject({ status: 'completed' });
    });
  });

  describe('when the kernel is closed', () => {
    it('refuses with KERNEL_CLOSED', async () => {
      h = await makeHarness();
      const permit = await permitFor(h);
      await h.kernel.close();
      expect(await h.kernel.execute(permit, { session: h.session })).toMatchObject({
        status: 'refused',
        code: 'KERNEL_CLOSED',
      });
    });
  });
});
