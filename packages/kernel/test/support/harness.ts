// A real kernel for tests: the real compiled map, real ARP routes, the real file journal in a temp
// directory, real Ed25519 keys; only the "bank" behind the handlers and loaders is a test double
// (it is the host's system, which the kernel never owns).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeSigner, generateKeyPair, toBase64url, type Signer, type TrustFile } from '@edca/records';
import { loadStateMap, type CompiledMap } from '@edca/semantic';
import type { ArpHandler, ArpSession } from '@edca/arp';
import {
  HandlerError,
  createKernel,
  openFileJournal,
  type Clock,
  type FileJournal,
  type Kernel,
  type KernelOptions,
  type KernelStore,
} from '@edca/kernel';

/** The test map: payments with hold / release / refund intents, limits and approvals. */
export function loadTestMap(): CompiledMap {
  const text = readFileSync(new URL('./refund-map.yaml', import.meta.url), 'utf8');
  const r = loadStateMap(text, 'refund-map.yaml');
  if (!r.ok) throw new Error(`test map invalid: ${JSON.stringify(r.diagnostics)}`);
  return r.value;
}

/** A manual clock. */
export interface TestClock extends Clock {
  t: number;
  advance(ms: number): void;
}

export function testClock(start = Date.parse('2026-03-01T10:00:00.000Z')): TestClock {
  const c = {
    t: start,
    now: () => c.t,
    advance: (ms: number) => {
      c.t += ms;
    },
  };
  return c;
}

export interface BankRow {
  PAY_ID: string;
  STATUS_CD: 'SETL' | 'HOLD' | 'RFND' | 'PEND';
  AMT_CENTS: number;
}

/** The host's system of record plus a log of effects (idempotency key per effect). */
export interface Bank {
  readonly rows: Map<string, BankRow>;
  readonly effects: { handler: string; key: string; id: string }[];
  /**
   * Per handler: make the next calls fail (`throw`), fail transiently once then work (`flaky`),
   * refuse as final (`final`, a `HandlerError` with `final: true`) or hang (`hang`).
   */
  readonly faults: Map<string, 'throw' | 'flaky' | 'final' | 'hang'>;
}

export function createBank(): Bank {
  const rows = new Map<string, BankRow>();
  for (let i = 1; i <= 50; i += 1) {
    rows.set(`P-${i}`, { PAY_ID: `P-${i}`, STATUS_CD: 'SETL', AMT_CENTS: 5_000 + i });
  }
  return { rows, effects: [], faults: new Map() };
}

function bankHandler(bank: Bank, name: string, next: BankRow['STATUS_CD']): ArpHandler {
  return async (call, context) => {
    const fault = bank.faults.get(name);
    if (fault === 'throw') throw new Error('downstream refused');
    if (fault === 'final') throw new HandlerError('no such payment to act on', { final: true });
    if (fault === 'flaky') {
      bank.faults.delete(name);
      throw new HandlerError('downstream busy');
    }
    if (fault === 'hang')
      await new Promise<void>((resolve) => context.signal?.addEventListener('abort', () => resolve()));
    if (fault === 'hang') return undefined;
    const id = call.realParams['PAY_ID'] as string;
    if (bank.effects.some((e) => e.key === context.idempotencyKey && e.handler === name))
      return { deduped: true };
    const row = bank.rows.get(id);
    if (!row) throw new Error('no such row');
    row.STATUS_CD = next;
    bank.effects.push({ handler: name, key: context.idempotencyKey, id });
    return { ok: true };
  };
}

/** The loader of the test map (`kernel-refunds`): a payment's row from the bank, by its PAY_ID ref. */
export function bankLoaders(bank: Bank): KernelOptions['loaders'] {
  return {
    'kernel-refunds': ({ refs }) => {
      const id = refs['PAY_ID']?.id;
      const row = id === undefined ? undefined : bank.rows.get(id);
      return Promise.resolve(row ? { tbl_pay: { ...row } } : {});
    },
  };
}

export function bankHandlers(bank: Bank): Record<string, ArpHandler> {
  return {
    'pay.hold': bankHandler(bank, 'pay.hold', 'HOLD'),
    'pay.release': bankHandler(bank, 'pay.release', 'SETL'),
    'pay.refund': bankHandler(bank, 'pay.refund', 'RFND'),
  };
}

export interface Harness {
  readonly kernel: Kernel;
  readonly journal: FileJournal;
  readonly bank: Bank;
  readonly clock: TestClock;
  readonly signer: Signer;
  readonly map: CompiledMap;
  readonly session: ArpSession;
  readonly dir: string;
  readonly journalPath: string;
  /** Projects the row for the session and returns the payment's opaque ref. */
  refFor(id: string, session?: ArpSession): string;
  close(): Promise<void>;
}

/** A signer that can be switched off (an HSM going away). */
export function switchableSigner(): Signer & { broken: boolean } {
  const real = createNodeSigner(generateKeyPair().privateKeyPem);
  const s = {
    kid: real.kid,
    publicKey: real.publicKey,
    broken: false,
    sign: (message: Uint8Array) =>
      s.broken ? Promise.reject(new Error('signer offline')) : real.sign(message),
  };
  return s;
}

export const REF_KEY = new Uint8Array(32).fill(9);

export interface HarnessOptions {
  readonly bank?: Bank;
  readonly clock?: TestClock;
  readonly store?: KernelStore;
  readonly trust?: TrustFile;
  readonly dir?: string;
  readonly signerPem?: string;
  readonly signer?: Signer;
  readonly maps?: CompiledMap[];
  readonly overrides?: Partial<KernelOptions>;
}

export async function makeHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'edca-kernel-'));
  const journalPath = join(dir, 'journal.jsonl');
  const bank = options.bank ?? createBank();
  const clock = options.clock ?? testClock();
  const signer = options.signer ?? createNodeSigner(options.signerPem ?? generateKeyPair().privateKeyPem);
  const journal = await openFileJournal({ path: journalPath, stream: 'test', signer, clock, fsync: false });
  const map = loadTestMap();
  // A kernel that refuses to start leaves its journal to the caller: close it, or the next start
  // in the same folder finds the single-writer lock held.
  const kernel = await createKernel({
    maps: options.maps ?? [map],
    loaders: bankLoaders(bank),
    refKey: REF_KEY,
    signer,
    journal,
    clock,
    handlers: bankHandlers(bank),
    handlerTimeoutMs: 200,
    retries: 1,
    ...(options.store ? { store: options.store } : {}),
    ...(options.trust ? { trust: options.trust } : {}),
    ...options.overrides,
  }).catch(async (error: unknown) => {
    await journal.close().catch(() => undefined);
    throw error;
  });
  const session: ArpSession = { stream: 'test', session: 'model-session-1' };
  const arp = kernel.arps.get('kernel-refunds')!;
  return {
    kernel,
    journal,
    bank,
    clock,
    signer,
    map,
    session,
    dir,
    journalPath,
    refFor(id, s = session) {
      const row = bank.rows.get(id)!;
      const view = arp.project({ tbl_pay: { ...row } }, s);
      if (!view.ok) throw new Error(`projection refused: ${view.code}`);
      return view.value.entities['payment']!;
    },
    async close() {
      await kernel.close();
      // A test may have broken the journal on purpose; closing it then reports that failure again.
      await journal.close().catch(() => undefined);
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A principal and proposer for tests. */
export const agent = {
  principal: { id: 'agent-7', attributes: { tier: 'agent' } },
  proposer: { modelId: 'test-model-1', promptTemplateDigest: `sha256:${'c'.repeat(64)}` },
} as const;

/** Approver keys and a trust file naming them with the `approver` role (plus one with another role). */
export function approverKeys(): {
  trust: TrustFile;
  approvers: Signer[];
  outsider: Signer;
} {
  const make = (): Signer => createNodeSigner(generateKeyPair().privateKeyPem);
  const approvers = [make(), make(), make()];
  const outsider = make();
  const entry = (s: Signer, role: string) => ({
    kid: s.kid,
    alg: 'Ed25519' as const,
    publicKey: toBase64url(s.publicKey),
    role,
    notBefore: '2020-01-01T00:00:00.000Z',
    notAfter: null,
  });
  return {
    trust: { version: 1, keys: [...approvers.map((s) => entry(s, 'approver')), entry(outsider, 'auditor')] },
    approvers,
    outsider,
  };
}
