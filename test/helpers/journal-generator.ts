/**
 * Generates realistic signed journals for the audit tests and benchmark: the same record format,
 * signatures and checkpoints the kernel's file journal writes (records' `sealRecord`, a checkpoint
 * after every N-th non-checkpoint record), and the kernel's life cycles: permit → attempt(s) →
 * outcome, refusals, escalate → signed approval → permit with approvals, kernel refusals after a
 * rejection, unknown outcomes followed by a kernel escalation. Deterministic for a given seed.
 */
import {
  actionHashOf,
  canonicalBytes,
  createNodeSigner,
  digestValue,
  generateKeyPair,
  MerkleAccumulator,
  leafHash,
  sealRecord,
  toBase64url,
  type Digest,
  type JsonValue,
  type RecordType,
  type SealedRecord,
  type Signer,
  type TrustFile,
} from '@edca/records';

/** The keys of a generated journal and the trust file that lists them. */
export interface GeneratorKeys {
  readonly kernel: Signer;
  readonly approver: Signer;
  /** A kernel-role key listed in the trust file that journals never use (for valid-key tampering). */
  readonly spareKernel: Signer;
  /** A key the trust file does not list. */
  readonly stranger: Signer;
  readonly trust: TrustFile;
  readonly trustText: string;
}

const seedOf = (n: number): Uint8Array => {
  const s = new Uint8Array(32);
  new DataView(s.buffer).setUint32(0, n);
  s[31] = 0xed;
  return s;
};

/** Deterministic keys (seeded), with a trust file listing kernel, spare kernel and approver keys. */
export function createGeneratorKeys(seed = 1): GeneratorKeys {
  const mk = (n: number): Signer => createNodeSigner(generateKeyPair(seedOf(seed * 16 + n)).privateKeyPem);
  const kernel = mk(1);
  const approver = mk(2);
  const spareKernel = mk(3);
  const stranger = mk(4);
  const entry = (s: Signer, role: string, name: string) => ({
    kid: s.kid,
    alg: 'Ed25519' as const,
    publicKey: toBase64url(s.publicKey),
    role,
    notBefore: '2020-01-01T00:00:00.000Z',
    notAfter: null,
    name,
  });
  const trust: TrustFile = {
    version: 1,
    keys: [
      entry(kernel, 'kernel', 'kernel-1'),
      entry(spareKernel, 'kernel', 'kernel-2'),
      entry(approver, 'approver', 'risk officer'),
    ],
  };
  return { kernel, approver, spareKernel, stranger, trust, trustText: JSON.stringify(trust, null, 2) };
}

/** Appends records like the kernel's journal: seq, prev, signature, and automatic checkpoints. */
export class JournalWriter {
  readonly sealed: SealedRecord[] = [];
  private readonly acc = new MerkleAccumulator();
  private sinceCheckpoint = 0;
  private clockMs: number;

  constructor(
    readonly stream: string,
    private signer: Signer,
    readonly checkpointEvery: number,
    startMs = Date.parse('2026-03-01T09:00:00.000Z'),
  ) {
    this.clockMs = startMs;
  }

  /** The next timestamp (records are 250 ms apart). */
  tick(): string {
    this.clockMs += 250;
    return new Date(this.clockMs).toISOString();
  }

  get size(): number {
    return this.sealed.length;
  }

  /** Appends one record (and a checkpoint after every `checkpointEvery` non-checkpoint records). */
  async append(type: RecordType, body: JsonValue, at?: string): Promise<SealedRecord> {
    const rec = await this.raw(type, body, at);
    if (++this.sinceCheckpoint >= this.checkpointEvery) await this.checkpoint();
    return rec;
  }

  /** Appends a checkpoint over every record so far. */
  async checkpoint(): Promise<SealedRecord> {
    this.sinceCheckpoint = 0;
    return this.raw('checkpoint', { size: this.acc.size, root: toBase64url(this.acc.root()) });
  }

  private async raw(type: RecordType, body: JsonValue, at?: string): Promise<SealedRecord> {
    const prev = this.sealed.at(-1);
    const rec = await sealRecord(
      {
        type,
        stream: this.stream,
        seq: this.sealed.length + 1,
        prev: prev === undefined ? null : prev.hash,
        at: at ?? this.tick(),
        body,
        kid: this.signer.kid,
      },
      this.signer,
    );
    this.sealed.push(rec);
    this.acc.append(leafHash(rec.bytes));
    return rec;
  }

  /** The journal's lines (no newlines). */
  lines(): string[] {
    return this.sealed.map((r) => Buffer.from(r.bytes).toString('utf8'));
  }
}

/** The exact bytes an approver signs: the kernel's approval format (kernel/src/approval.ts). */
export function approvalMessage(statement: JsonValue): Uint8Array {
  return Buffer.concat([Buffer.from('edca-approval-v1\n', 'latin1'), canonicalBytes(statement)]);
}

/** What a generated journal holds. */
export interface GeneratedJournal {
  readonly keys: GeneratorKeys;
  readonly stream: string;
  readonly policyDigest: Digest;
  readonly sealed: readonly SealedRecord[];
  readonly lines: readonly string[];
  /** The file text: every line followed by a newline. */
  readonly text: string;
  /** seq of records by kind, for tamper tests that need a record of a given kind. */
  readonly seqs: {
    readonly permits: number[];
    readonly attempts: number[];
    readonly outcomes: number[];
    readonly approvals: number[];
    readonly escalations: number[];
    readonly checkpoints: number[];
  };
}

/** Options of `generateJournal`. */
export interface GenerateOptions {
  /** Minimum number of records (the journal ends after the cycle that reaches it, plus a checkpoint). */
  readonly records: number;
  readonly seed?: number;
  readonly stream?: string;
  readonly checkpointEvery?: number;
  readonly keys?: GeneratorKeys;
}

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const POLICY = { name: 'card-servicing', version: '2026.03.1', owner: 'payments-risk@bank.example' };

/**
 * Generates a journal of at least `records` records, ending with a checkpoint that covers all
 * of them (as a kernel journal looks after a clean close).
 */
export async function generateJournal(options: GenerateOptions): Promise<GeneratedJournal> {
  const keys = options.keys ?? createGeneratorKeys(options.seed ?? 1);
  const stream = options.stream ?? 'tenant-a/cards';
  const rnd = prng(options.seed ?? 1);
  const w = new JournalWriter(stream, keys.kernel, options.checkpointEvery ?? 100);
  const seqs = {
    permits: [],
    attempts: [],
    outcomes: [],
    approvals: [],
    escalations: [],
    checkpoints: [],
  } as {
    permits: number[];
    attempts: number[];
    outcomes: number[];
    approvals: number[];
    escalations: number[];
    checkpoints: number[];
  };
  const policyDigest = digestValue({ policy: POLICY, seed: options.seed ?? 1 });

  await w.append('key.added', {
    kid: keys.kernel.kid,
    publicKey: toBase64url(keys.kernel.publicKey),
    role: 'kernel',
  });
  await w.append('key.added', {
    kid: keys.approver.kid,
    publicKey: toBase64url(keys.approver.publicKey),
    role: 'approver',
  });
  await w.append('policy.activated', { policyDigest, ...POLICY });

  let n = 0;
  const decision = async (
    verdict: 'permit' | 'refuse' | 'escalate',
    proposal: { intent: string; params: Record<string, JsonValue> },
    approvals: { kid: string; role: string }[],
    rule: string,
    reasons: string[],
  ): Promise<SealedRecord> => {
    const input = {
      policyDigest,
      state: {
        facets: { card: rnd() < 0.5 ? 'active' : 'blocked', kyc: 'verified' },
        machines: { dispute: 'open' },
      },
      proposal,
      principal: { id: `agent-${n % 17}`, attributes: { team: 'servicing', level: 2 } },
      approvals,
      // The kernel's own refusals record no counters (it stopped before reading them).
      counters: rule.startsWith('kernel.') ? {} : { 'refund.rate': n % 5 },
    };
    const at = w.tick();
    const body: Record<string, JsonValue> = {
      verdict,
      decisionKey: digestValue(input),
      policyDigest,
      stateHash: digestValue(input.state),
      actionHash: actionHashOf(proposal),
      input,
      rule,
      reasons,
      accountable: POLICY.owner,
      principal: input.principal.id,
      proposer: { modelId: 'gpt-x-2026-01', promptTemplateDigest: digestValue({ template: 'servicing-v4' }) },
    };
    if (verdict === 'permit') body['expiresAt'] = new Date(Date.parse(at) + 300_000).toISOString();
    if (verdict === 'escalate') {
      body['pendingApproval'] = {
        count: 1,
        role: 'approver',
        expiresAt: new Date(Date.parse(at) + 3_600_000).toISOString(),
      };
    }
    return w.append('decision', body);
  };
  const execute = async (
    permit: SealedRecord,
    actionHash: string,
    tries: number,
    status: string,
  ): Promise<void> => {
    let attempt: SealedRecord | undefined;
    for (let t = 1; t <= tries; t++) {
      attempt = await w.append('attempt', {
        permit: permit.hash,
        actionHash,
        idempotencyKey: permit.hash,
        try: t,
      });
      seqs.attempts.push(attempt.record.seq);
    }
    const body: Record<string, JsonValue> = { attempt: attempt!.hash, permit: permit.hash, status };
    if (status !== 'completed')
      body['error'] = { code: status === 'failed' ? 'HANDLER_FAILED' : 'HANDLER_TIMEOUT' };
    else body['transition'] = { machine: 'dispute', from: 'open', to: 'refunded' };
    const outcome = await w.append('outcome', body);
    seqs.outcomes.push(outcome.record.seq);
  };

  while (w.size < options.records) {
    n++;
    const proposal = {
      intent: 'refund_payment',
      params: { amount: Math.floor(rnd() * 50_000) / 100, payment: `ref_${n}` },
    };
    const actionHash = actionHashOf(proposal);
    const r = rnd();
    if (r < 0.55) {
      const permit = await decision('permit', proposal, [], 'refund.small', []);
      seqs.permits.push(permit.record.seq);
      const retry = rnd() < 0.1;
      await execute(permit, actionHash, retry ? 2 : 1, rnd() < 0.9 ? 'completed' : 'failed');
    } else if (r < 0.75) {
      await decision('refuse', proposal, [], 'refund.limit', ['LIMIT_EXCEEDED']);
    } else {
      const esc = await decision('escalate', proposal, [], 'refund.large', ['APPROVAL_REQUIRED']);
      seqs.escalations.push(esc.record.seq);
      const verdict = rnd() < 0.85 ? 'approve' : 'reject';
      const statement = {
        domain: 'edca-approval-v1',
        decision: esc.hash,
        actionHash,
        verdict,
        approver: { kid: keys.approver.kid, role: 'approver' },
        at: w.tick(),
      };
      const sig = toBase64url(await keys.approver.sign(approvalMessage(statement)));
      const approval = await w.append('approval', {
        decision: esc.hash,
        actionHash,
        verdict,
        approver: { kid: keys.approver.kid, role: 'approver' },
        statement,
        sig,
      });
      seqs.approvals.push(approval.record.seq);
      if (verdict === 'approve') {
        const permit = await decision(
          'permit',
          proposal,
          [{ kid: keys.approver.kid, role: 'approver' }],
          'refund.large',
          [],
        );
        seqs.permits.push(permit.record.seq);
        await execute(permit, actionHash, 1, 'completed');
      } else {
        await decision('refuse', proposal, [], 'kernel.approval', ['APPROVAL_REJECTED']);
      }
    }
  }
  if (w.sealed.at(-1)?.record.type !== 'checkpoint') await w.checkpoint();
  for (const r of w.sealed) if (r.record.type === 'checkpoint') seqs.checkpoints.push(r.record.seq);
  const lines = w.lines();
  return { keys, stream, policyDigest, sealed: w.sealed, lines, text: lines.join('\n') + '\n', seqs };
}
