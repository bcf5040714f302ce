// Witnessed checkpoints, after C2SP tlog-checkpoint, tlog-cosignature and tlog-witness: a
// witness cosigns a log's checkpoint only if it is consistent with the largest checkpoint it has
// cosigned for that log, so a journal later cut back (or forked) contradicts a cosignature held
// by somebody outside the operator. The witness's own state is behind a port: the library does
// no I/O and reads no clock.
import {
  decodeRecord,
  findTrustedKey,
  fromBase64url,
  publicKeyOfTrusted,
  RecordsError,
  toBase64url,
  verifyConsistency,
  verifyEd25519,
  verifyRecordLine,
  type Signer,
  type TrustFile,
} from '@edca/records';
import { z } from 'zod';
import { AuditError } from './errors.js';

/** The role a witness key has in the trust file. */
export const WITNESS_ROLE = 'witness';

/** A log's state as a witness keeps it: the largest checkpoint it has cosigned. */
export interface WitnessedState {
  readonly size: number;
  /** RFC 6962 root, base64url (as in checkpoint records). */
  readonly root: string;
}

/** Durable storage for a witness's state, one entry per log (stream). */
export interface WitnessStateStore {
  load(origin: string): Promise<WitnessedState | undefined>;
  /** Must be durable when it resolves: a cosignature is only returned after it. */
  save(origin: string, state: WitnessedState): Promise<void>;
}

/** One witness's cosignature of a checkpoint (C2SP tlog-cosignature v1 message). */
export interface Cosignature {
  readonly kid: string;
  /** Seconds since the epoch when the witness cosigned. */
  readonly time: number;
  /** Ed25519 signature, base64url. */
  readonly sig: string;
}

/** A checkpoint with the cosignatures collected for it: what an auditor's `--witnesses` file holds. */
export interface WitnessedCheckpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: string;
  readonly cosignatures: readonly Cosignature[];
}

/** A request to cosign: the kernel's signed checkpoint record and a proof from the size the caller believes the witness holds. */
export interface AddCheckpointRequest {
  /** The checkpoint record, exactly as journaled (one canonical line). */
  readonly checkpoint: string;
  /** The size the caller believes the witness last cosigned (0 for none). */
  readonly oldSize: number;
  /** RFC 6962 consistency proof from `oldSize` to the checkpoint's size, base64url hashes. */
  readonly proof: readonly string[];
}

/** The result of a request: a cosignature, or a refusal with a stable code. */
export type AddCheckpointResult =
  | { readonly ok: true; readonly cosignature: Cosignature; readonly checkpoint: WitnessedCheckpoint }
  | {
      readonly ok: false;
      readonly code: WitnessRefusalCode;
      readonly message: string;
      /** With `WITNESS_CONFLICT`: the size the witness holds, so the caller can retry with a proof from it. */
      readonly size?: number;
    };

/** Why a witness refuses to cosign. */
export type WitnessRefusalCode =
  | 'WITNESS_BAD_REQUEST'
  | 'WITNESS_UNTRUSTED_LOG'
  | 'WITNESS_CONFLICT'
  | 'WITNESS_ROLLBACK'
  | 'WITNESS_INCONSISTENT';

const COSIGNATURE_PREFIX = 'cosignature/v1\n';

/** The C2SP checkpoint note body of a checkpoint: origin, size, root (standard base64), one per line. */
export function checkpointNote(origin: string, size: number, root: string): string {
  return `${origin}\n${size}\n${Buffer.from(fromBase64url(root, 32, 'RECORD_INVALID')).toString('base64')}\n`;
}

/** The bytes a witness signs: C2SP tlog-cosignature v1 (`cosignature/v1`, `time T`, then the note). */
export function cosignatureMessage(origin: string, size: number, root: string, time: number): Uint8Array {
  return Buffer.from(`${COSIGNATURE_PREFIX}time ${time}\n${checkpointNote(origin, size, root)}`, 'utf8');
}

const requestSchema = z.strictObject({
  checkpoint: z.string().min(1).max(4096),
  oldSize: z.int().min(0),
  proof: z.array(z.string().regex(/^[A-Za-z0-9_-]{43}$/)).max(64),
});

/** A witness: cosigns checkpoints of logs whose kernel keys its trust file lists. */
export interface Witness {
  readonly kid: string;
  addCheckpoint(request: unknown, nowSeconds: number): Promise<AddCheckpointResult>;
}

/**
 * Creates a witness over a durable state store. Requests are handled one at a time, so two
 * concurrent requests cannot both extend the same old state.
 * @example
 * const w = createWitness({ signer, trust, store });
 * const r = await w.addCheckpoint({ checkpoint: line, oldSize: 0, proof: [] }, Math.floor(Date.now() / 1000));
 */
export function createWitness(options: {
  readonly signer: Signer;
  readonly trust: TrustFile;
  readonly store: WitnessStateStore;
}): Witness {
  const { signer, trust, store } = options;
  let queue: Promise<unknown> = Promise.resolve();
  const refuse = (code: WitnessRefusalCode, message: string, size?: number): AddCheckpointResult => ({
    ok: false,
    code,
    message,
    ...(size === undefined ? {} : { size }),
  });

  async function add(request: unknown, now: number): Promise<AddCheckpointResult> {
    const parsed = requestSchema.safeParse(request);
    if (!parsed.success)
      return refuse('WITNESS_BAD_REQUEST', parsed.error.issues[0]?.message ?? 'bad request');
    const { checkpoint, oldSize, proof } = parsed.data;
    let record;
    try {
      record = decodeRecord(checkpoint);
      if (record.type !== 'checkpoint')
        return refuse('WITNESS_BAD_REQUEST', `a ${record.type} record, not a checkpoint`);
      const key = findTrustedKey(trust, record.kid, 'kernel', record.at);
      if (key === undefined)
        return refuse('WITNESS_UNTRUSTED_LOG', `${record.kid} is not a trusted kernel key`);
      verifyRecordLine(checkpoint, publicKeyOfTrusted(key));
    } catch (err) {
      if (err instanceof RecordsError) return refuse('WITNESS_BAD_REQUEST', `${err.code}: ${err.message}`);
      throw err;
    }
    const origin = record.stream;
    const { size, root } = record.body as { size: number; root: string };
    const held = (await store.load(origin)) ?? { size: 0, root: '' };
    if (oldSize !== held.size)
      return refuse('WITNESS_CONFLICT', `the witness holds size ${held.size}`, held.size);
    if (size < held.size) {
      return refuse('WITNESS_ROLLBACK', `size ${size} is smaller than the cosigned ${held.size}`, held.size);
    }
    if (size === held.size) {
      if (root !== held.root) return refuse('WITNESS_INCONSISTENT', `another root for size ${size}: a fork`);
    } else if (held.size > 0) {
      const ok = verifyConsistency(
        held.size,
        size,
        fromBase64url(held.root, 32, 'RECORD_INVALID'),
        fromBase64url(root, 32, 'RECORD_INVALID'),
        proof.map((p) => fromBase64url(p, 32, 'RECORD_INVALID')),
      );
      if (!ok) return refuse('WITNESS_INCONSISTENT', `no consistency from size ${held.size} to ${size}`);
    }
    await store.save(origin, { size, root });
    const sig = toBase64url(await signer.sign(cosignatureMessage(origin, size, root, now)));
    const cosignature = { kid: signer.kid, time: now, sig };
    return { ok: true, cosignature, checkpoint: { origin, size, root, cosignatures: [cosignature] } };
  }

  return {
    kid: signer.kid,
    addCheckpoint(request, nowSeconds) {
      if (!Number.isSafeInteger(nowSeconds) || nowSeconds < 0)
        throw new AuditError('ARGUMENT_INVALID', 'nowSeconds must be a non-negative integer');
      const run = queue.then(() => add(request, nowSeconds));
      queue = run.catch(() => undefined);
      return run;
    },
  };
}

const witnessFileSchema = z.strictObject({
  version: z.literal(1),
  checkpoints: z.array(
    z.strictObject({
      origin: z.string().min(1),
      size: z.int().min(0),
      root: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
      cosignatures: z.array(
        z.strictObject({
          kid: z.string(),
          time: z.int().min(0),
          sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
        }),
      ),
    }),
  ),
});

/** A file of witnessed checkpoints, as `edca witness` writes and `edca audit verify --witnesses` reads. */
export type WitnessFile = z.infer<typeof witnessFileSchema>;

/**
 * Parses a witnessed-checkpoints file.
 * @throws AuditError `WITNESS_FILE_INVALID`
 */
export function parseWitnessFile(value: unknown): WitnessFile {
  const parsed = witnessFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AuditError('WITNESS_FILE_INVALID', `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The largest checkpoint of `origin` that at least `quorum` distinct trusted witnesses cosigned. */
export interface WitnessedSize {
  readonly size: number;
  readonly root: string;
  readonly witnesses: readonly string[];
}

/**
 * The newest checkpoint of a log vouched for by at least `quorum` distinct witness keys of the
 * trust file (role `witness`), each cosignature checked with the strict Ed25519 policy and the
 * canonical base64url spelling. Unverifiable cosignatures are ignored (counted in `rejected`).
 */
export function newestWitnessed(
  file: WitnessFile,
  origin: string,
  trust: TrustFile,
  quorum = 1,
): { readonly best: WitnessedSize | null; readonly rejected: number } {
  let best: WitnessedSize | null = null;
  let rejected = 0;
  for (const cp of file.checkpoints) {
    if (cp.origin !== origin) continue;
    const good = new Set<string>();
    for (const c of cp.cosignatures) {
      const at = new Date(c.time * 1000).toISOString();
      const key = findTrustedKey(trust, c.kid, WITNESS_ROLE, at);
      let sig: Uint8Array | undefined;
      try {
        sig = fromBase64url(c.sig, 64, 'SIG_INVALID');
      } catch {
        sig = undefined;
      }
      const valid =
        key !== undefined &&
        sig !== undefined &&
        toBase64url(sig) === c.sig &&
        verifyEd25519(publicKeyOfTrusted(key), cosignatureMessage(cp.origin, cp.size, cp.root, c.time), sig);
      if (valid) good.add(c.kid);
      else rejected++;
    }
    if (good.size >= quorum && (best === null || cp.size > best.size)) {
      best = { size: cp.size, root: cp.root, witnesses: [...good].sort() };
    }
  }
  return { best, rejected };
}
