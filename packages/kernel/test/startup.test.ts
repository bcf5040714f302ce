import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeSigner, generateKeyPair } from '@edca/records';
import { compile, loadStateMap, type CompiledMap } from '@edca/semantic';
import { createKernel, openFileJournal, type AppendedRecord, type KernelOptions } from '@edca/kernel';
import {
  agent,
  bankHandlers,
  createBank,
  loadTestMap,
  makeHarness,
  REF_KEY,
  switchableSigner,
  testClock,
  type Harness,
} from './support/harness.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'edca-startup-'));
  dirs.push(d);
  return d;
}

async function records(harness: Harness): Promise<AppendedRecord[]> {
  const out: AppendedRecord[] = [];
  for await (const r of harness.journal.read()) out.push(r);
  return out;
}

/** A map whose evaluate permits everything: a policy that would not refuse a known-forbidden proposal. */
function permissive(map: CompiledMap): CompiledMap {
  return new Proxy(map, {
    get(target, prop) {
      if (prop === 'evaluate') {
        return () => ({ verdict: 'permit', rule: 'x', reasons: ['ALLOWED'], accountable: 'x' });
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function baseOptions(dir: string): Promise<KernelOptions> {
  const signer = createNodeSigner(generateKeyPair().privateKeyPem);
  const journal = await openFileJournal({ path: join(dir, 'j.jsonl'), stream: 's', signer, fsync: false });
  return {
    maps: [loadTestMap()],
    loaders: { 'kernel-refunds': () => Promise.resolve({}) },
    refKey: REF_KEY,
    signer,
    journal,
    clock: testClock(),
    handlers: bankHandlers(createBank()),
  };
}

describe('createKernel self-test', () => {
  describe('when everything works', () => {
    it('starts and journals policy.activated once per map digest', async () => {
      const dir = tempDir();
      const pem = generateKeyPair().privateKeyPem;
      const first = await makeHarness({ dir, signerPem: pem });
      await first.close();
      const second = await makeHarness({ dir, signerPem: pem });
      const activated = (await records(second)).filter((r) => r.record.type === 'policy.activated');
      expect(activated.map((r) => r.record.body)).toEqual([
        { policyDigest: second.map.digest, name: 'kernel-refunds', version: '1', owner: 'payments-lead' },
      ]);
      await second.close();
    });
  });

  const failing: [string, (o: KernelOptions) => KernelOptions | Promise<KernelOptions>][] = [
    ['the map does not refuse a known-forbidden proposal', (o) => ({ ...o, maps: [permissive(o.maps[0]!)] })],
    [
      'a route names a handler that is not registered',
      (o) => ({ ...o, handlers: { 'pay.hold': o.handlers['pay.hold']! } }),
    ],
    ['a map has no loader', (o) => ({ ...o, loaders: {} })],
    [
      'the signer does not sign',
      (o) => {
        const s = switchableSigner();
        s.broken = true;
        return { ...o, signer: s };
      },
    ],
    [
      'the journal is closed',
      async (o) => {
        await o.journal.close();
        return o;
      },
    ],
    [
      'the journal signs with another key',
      (o) => ({ ...o, signer: createNodeSigner(generateKeyPair().privateKeyPem) }),
    ],
  ];
  for (const [when, change] of failing) {
    describe(`when ${when}`, () => {
      it('refuses to start with KERNEL_SELF_TEST_FAILED', async () => {
        const options = await change(await baseOptions(tempDir()));
        await expect(createKernel(options)).rejects.toMatchObject({
          name: 'KernelError',
          code: 'KERNEL_SELF_TEST_FAILED',
        });
        await options.journal.close().catch(() => undefined);
      });
    });
  }

  describe('when public state words of a map run together into a private code', () => {
    it('refuses to start with KERNEL_SELF_TEST_FAILED, naming the words and the code', async () => {
      const options = await baseOptions(tempDir());
      const text = readFileSync(new URL('../../arp/test/fixtures/sim-lines.yaml', import.meta.url), 'utf8');
      const loaded = loadStateMap(text, 'sim-lines.yaml');
      if (!loaded.ok) throw new Error('sim-lines fixture does not load');
      const started = createKernel({
        ...options,
        maps: [loaded.value],
        loaders: { 'sim-lines': () => Promise.resolve({}) },
        handlers: { 'lines.reactivate': () => ({ ok: true }) },
      });
      await expect(started).rejects.toMatchObject({ code: 'KERNEL_SELF_TEST_FAILED' });
      await expect(started).rejects.toThrow(/"sim" \+ "terminated".*"sim term"/);
      await options.journal.close();
    });
  });

  describe('when two maps declare the same intent', () => {
    it('refuses to start with KERNEL_CONFIG_INVALID', async () => {
      const options = await baseOptions(tempDir());
      const first = options.maps[0]!;
      const twin = compile({ ...first.document, name: 'kernel-refunds-twin' });
      await expect(
        createKernel({
          ...options,
          maps: [first, twin],
          loaders: { ...options.loaders, 'kernel-refunds-twin': () => Promise.resolve({}) },
        }),
      ).rejects.toMatchObject({ code: 'KERNEL_CONFIG_INVALID' });
      await options.journal.close();
    });
  });

  describe('when an option is out of range', () => {
    it('refuses to start with KERNEL_CONFIG_INVALID', async () => {
      const options = await baseOptions(tempDir());
      await expect(createKernel({ ...options, retries: -1 })).rejects.toMatchObject({
        code: 'KERNEL_CONFIG_INVALID',
      });
      await expect(createKernel({ ...options, permitTtlMs: 0 })).rejects.toMatchObject({
        code: 'KERNEL_CONFIG_INVALID',
      });
      await options.journal.close();
    });
  });
});

describe('startup recovery', () => {
  describe('when the kernel restarts on the same journal', () => {
    it('rebuilds consumed permits and limit usage from the journal', async () => {
      const dir = tempDir();
      const pem = generateKeyPair().privateKeyPem;
      const bank = createBank();
      const clock = testClock();
      const first = await makeHarness({ dir, signerPem: pem, bank, clock });
      const ctx = { session: first.session, ...agent };
      const hold = await first.kernel.decide(
        { intent: 'hold_payment', params: { payment: first.refFor('P-9') } },
        ctx,
      );
      expect((await first.kernel.execute(hold.permit!, { session: first.session })).status).toBe('completed');
      for (let i = 1; i <= 5; i += 1) {
        const d = await first.kernel.decide(
          { intent: 'refund_payment', params: { payment: first.refFor(`P-${i}`), amount: 400 } },
          ctx,
        );
        expect((await first.kernel.execute(d.permit!, { session: first.session })).status).toBe('completed');
      }
      await first.close();
      const second = await makeHarness({ dir, signerPem: pem, bank, clock });
      expect(second.kernel.recovery).toMatchObject({ dangling: 0, resolved: [] });
      expect(await second.kernel.execute(hold.permit!, { session: second.session })).toMatchObject({
        status: 'refused',
        code: 'PERMIT_CONSUMED',
      });
      const over = await second.kernel.decide(
        { intent: 'refund_payment', params: { payment: second.refFor('P-20'), amount: 1 } },
        { session: second.session, ...agent },
      );
      expect(over).toMatchObject({ verdict: 'refuse', reasons: ['LIMIT_EXCEEDED'] });
      await second.close();
    });
  });

  describe('when an attempt has no outcome (the process died mid-execution)', () => {
    async function crashedAttempt(): Promise<{
      dir: string;
      pem: string;
      permit: string;
      bank: ReturnType<typeof createBank>;
    }> {
      const dir = tempDir();
      const pem = generateKeyPair().privateKeyPem;
      const bank = createBank();
      const h = await makeHarness({ dir, signerPem: pem, bank });
      const d = await h.kernel.decide(
        { intent: 'hold_payment', params: { payment: h.refFor('P-1') } },
        { session: h.session, ...agent },
      );
      const body = d.permit!.record.body as { actionHash: string };
      await h.journal.append([
        {
          type: 'attempt',
          at: '2026-03-01T10:00:00.000Z',
          body: {
            permit: d.permit!.hash,
            actionHash: body.actionHash,
            idempotencyKey: d.permit!.hash,
            try: 1,
          },
        },
      ]);
      await h.close();
      return { dir, pem, permit: d.permit!.hash, bank };
    }

    it('records an unknown outcome and escalates it when the handler has no idempotency check', async () => {
      const c = await crashedAttempt();
      const h = await makeHarness({ dir: c.dir, signerPem: c.pem, bank: c.bank });
      expect(h.kernel.recovery).toMatchObject({
        dangling: 1,
        resolved: [{ permit: c.permit, status: 'unknown' }],
      });
      const all = await records(h);
      const outcome = all.find((r) => r.record.type === 'outcome')!;
      expect(outcome.record.body).toMatchObject({
        permit: c.permit,
        status: 'unknown',
        error: { code: 'OUTCOME_UNKNOWN' },
      });
      const escalation = all.filter((r) => r.record.type === 'decision').at(-1)!;
      expect(escalation.record.body).toMatchObject({ verdict: 'escalate', reasons: ['OUTCOME_UNKNOWN'] });
      expect((await h.kernel.store.getApproval(escalation.hash))?.status).toBe('pending');
      await h.close();
      const again = await makeHarness({ dir: c.dir, signerPem: c.pem, bank: c.bank });
      expect(again.kernel.recovery.dangling).toBe(0);
      await again.close();
    });

    it('asks the handler idempotency check and records what it says', async () => {
      const c = await crashedAttempt();
      const h = await makeHarness({
        dir: c.dir,
        signerPem: c.pem,
        bank: c.bank,
        overrides: {
          idempotencyChecks: {
            'pay.hold': (key) => Promise.resolve(key === c.permit ? 'completed' : 'absent'),
          },
        },
      });
      expect(h.kernel.recovery.resolved).toEqual([{ permit: c.permit, status: 'completed' }]);
      const outcome = (await records(h)).find((r) => r.record.type === 'outcome')!;
      expect(outcome.record.body).toMatchObject({
        status: 'completed',
        transition: { machine: 'payment', from: 'settled', to: 'held' },
      });
      await h.close();
    });
  });
});
