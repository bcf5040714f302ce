/**
 * k-of-n witnessed checkpoints as a kernel gate: before each decision the kernel makes sure the
 * newest checkpoint its journal holds was cosigned by at least `quorum` of its witnesses (C2SP
 * tlog-witness: each witness cosigns only a checkpoint consistent with the largest it cosigned for
 * this log). While that is not so, the kernel decides nothing: a journal that outsiders have not
 * vouched for cannot be cut back silently, so the kernel does not add to it.
 *
 * The witness is a port (`CheckpointWitness`): `@edca/audit`'s `createWitness` fits it in
 * process, and an HTTP client of `edca witness serve` fits it across a network.
 */
import { consistencyProof, leafHash, toBase64url, type JsonValue, type SignedRecord } from '@edca/records';
import type { AppendedRecord, Journal } from './journal.js';
import { KernelError } from './errors.js';

/** A witness's answer to a cosigning request (the shape `@edca/audit`'s `Witness` returns). */
export type CheckpointWitnessResult =
  | {
      readonly ok: true;
      readonly cosignature: { readonly kid: string; readonly time: number; readonly sig: string };
    }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly size?: number };

/** One witness the kernel asks to cosign its checkpoints. */
export interface CheckpointWitness {
  /** The witness key's kid (distinct witnesses count once each toward the quorum). */
  readonly kid: string;
  /**
   * Asks for a cosignature of `checkpoint` (the journaled line), with an RFC 6962 consistency
   * proof from `oldSize`, the size the kernel believes the witness holds (0: none).
   */
  addCheckpoint(
    request: { readonly checkpoint: string; readonly oldSize: number; readonly proof: readonly string[] },
    nowSeconds: number,
  ): Promise<CheckpointWitnessResult>;
}

/** A checkpoint with the cosignatures gathered for it (one entry of an auditor's `--witnesses` file). */
export interface KernelWitnessedCheckpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: string;
  readonly cosignatures: readonly { readonly kid: string; readonly time: number; readonly sig: string }[];
}

/** The kernel option `witnesses`: who cosigns, how many must, and where the cosignatures go. */
export interface WitnessPolicy {
  readonly witnesses: readonly CheckpointWitness[];
  /** How many distinct witnesses must cosign the newest checkpoint before the kernel decides again. */
  readonly quorum: number;
  /** Called with every checkpoint that reached the quorum, for the host to keep (the auditor's witness file). */
  readonly onWitnessed?: (checkpoint: KernelWitnessedCheckpoint) => void | Promise<void>;
}

/** The gate the kernel consults; `check` resolves to a reason code when it must refuse. */
export interface WitnessGate {
  /** Takes the leaves of records this kernel appended (saves reading them back). */
  observe(appended: readonly AppendedRecord[]): void;
  /** Undefined when the newest checkpoint has its quorum; else `WITNESS_QUORUM_UNMET`. */
  check(nowMs: number): Promise<'WITNESS_QUORUM_UNMET' | undefined>;
}

/**
 * Creates the gate over a journal.
 * @throws KernelError KERNEL_CONFIG_INVALID when the quorum is not an integer in 1..n or two witnesses share a kid
 * @example const gate = createWitnessGate({ witnesses: [w1, w2, w3], quorum: 2 }, journal);
 */
export function createWitnessGate(policy: WitnessPolicy, journal: Journal): WitnessGate {
  const n = policy.witnesses.length;
  if (!Number.isInteger(policy.quorum) || policy.quorum < 1 || policy.quorum > n)
    throw new KernelError('KERNEL_CONFIG_INVALID', `witnesses.quorum must be an integer in 1..${n}`);
  if (new Set(policy.witnesses.map((w) => w.kid)).size !== n)
    throw new KernelError('KERNEL_CONFIG_INVALID', 'two witnesses share one kid');

  const leaves: Uint8Array[] = [];
  /** The newest checkpoint seen that has not reached the quorum yet. */
  let pending: { readonly line: string; readonly record: SignedRecord } | undefined;
  /** The size each witness last cosigned (what its proof starts from). */
  const held = new Map<string, number>();
  let gap = true; // nothing read yet: the first check reads the journal from its start
  let queue: Promise<unknown> = Promise.resolve();

  const take = (a: AppendedRecord): void => {
    if (a.record.seq !== leaves.length + 1) return; // already known (appended while a read ran)
    leaves.push(leafHash(a.bytes));
    if (a.record.type === 'checkpoint')
      pending = { line: Buffer.from(a.bytes).toString('utf8'), record: a.record };
  };

  async function ask(
    w: CheckpointWitness,
    line: string,
    size: number,
    now: number,
  ): Promise<CheckpointWitnessResult | undefined> {
    const request = (from: number) => ({
      checkpoint: line,
      oldSize: from,
      proof: from > 0 && from < size ? consistencyProof(from, leaves.slice(0, size)).map(toBase64url) : [],
    });
    try {
      let r = await w.addCheckpoint(request(held.get(w.kid) ?? 0), now);
      // The witness holds another size than we thought (a restart, another instance): once more from it.
      if (!r.ok && r.code === 'WITNESS_CONFLICT' && r.size !== undefined && r.size <= size) {
        held.set(w.kid, r.size);
        r = await w.addCheckpoint(request(r.size), now);
      }
      if (r.ok) held.set(w.kid, size);
      return r;
    } catch {
      return undefined; // an unreachable witness does not cosign
    }
  }

  return {
    observe(appended) {
      for (const a of appended) {
        if (gap || a.record.seq !== leaves.length + 1) {
          gap = true;
          return;
        }
        take(a);
      }
    },
    check(nowMs) {
      // One check at a time: concurrent decisions share the reads and the witnesses' answers.
      const run = queue.then(() => checkNow(nowMs));
      queue = run.catch(() => undefined);
      return run;
    },
  };

  async function checkNow(nowMs: number): Promise<'WITNESS_QUORUM_UNMET' | undefined> {
    const head = await journal.head();
    if (gap || head.seq > leaves.length) {
      for await (const a of journal.read(leaves.length + 1)) take(a);
      gap = false;
    }
    if (pending === undefined) return undefined;
    const { line, record } = pending;
    const body = record.body as { readonly [k: string]: JsonValue };
    const size = body['size'] as number;
    const now = Math.floor(nowMs / 1000);
    const answers = await Promise.all(policy.witnesses.map((w) => ask(w, line, size, now)));
    const cosignatures = answers.flatMap((r, i) =>
      r?.ok === true && r.cosignature.kid === policy.witnesses[i]!.kid ? [r.cosignature] : [],
    );
    if (cosignatures.length < policy.quorum) return 'WITNESS_QUORUM_UNMET';
    pending = undefined;
    await policy.onWitnessed?.({ origin: record.stream, size, root: body['root'] as string, cosignatures });
    return undefined;
  }
}
