/**
 * Sealing a chain of records, optionally on a worker thread.
 *
 * A journal appends records whose `prev` is the hash of the previous signed line, so signatures
 * must be made in chain order. {@link prepareRecord} does every check and the canonicalization of a
 * record on the caller's thread (exactly the checks of `sealRecord`), leaving only `prev` and `sig`
 * open; {@link sealChain} then fills in `prev`, signs and hashes each record in order. With a
 * {@link ChainSigner} from {@link createWorkerSigner} that last part (most of the CPU of sealing:
 * the Ed25519 signature and two SHA-256) runs on a worker thread holding the key
 * (internal/seal-worker.ts), so a kernel's main
 * thread keeps deciding while records are signed. The bytes are identical to `sealRecord`'s; the
 * property tests in test/seal-chain.test.ts check that for both paths.
 */
import type { KeyObject } from 'node:crypto';
import type { Worker } from 'node:worker_threads';

import { toBase64url } from './base64url.js';
import { digestBytes, type Digest } from './digest.js';
import {
  createNodeSigner,
  createSodiumSigner,
  defaultEd25519Backend,
  kidOf,
  privateKeyObjectOf,
  type Signer,
} from './ed25519.js';
import { RecordsError } from './errors.js';
import { DEFAULT_IJSON_LIMITS, canonicalize } from './ijson.js';
import { bodyCheckPath } from './fast-decode.js';
import { leafHash } from './merkle.js';
import {
  MAX_RECORD_BYTES,
  bodyCheck,
  checkEnvelope,
  type SealedRecord,
  type UnsignedRecord,
} from './record.js';
import { checkedBodySchemas } from './record-types.js';
import type { SealReply, SealRequest, SealWorkerData } from './internal/seal-worker.js';
import { RECORD_SIGNING_PREFIX as PREFIX } from './wire.js';
import { startWorkerModule } from './worker-module.js';

/** A record to prepare: an unsigned record without `prev` (the chain supplies it when sealing). */
export type ChainDraft = Omit<UnsignedRecord, 'prev'>;

/**
 * A record checked and canonicalized for {@link sealChain}: made only by {@link prepareRecord}.
 * Its canonical unsigned line is `head + PREV + mid + tail`, and its signed line
 * `head + PREV + mid + '"sig":"…",' + tail`, where PREV is `null` or the quoted previous hash.
 */
export interface PreparedRecord {
  readonly draft: ChainDraft;
  /** `{"at":…,"body":…,"kid":…,"prev":` */
  readonly head: string;
  /** `,"seq":N,` */
  readonly mid: string;
  /** `"stream":…,"type":…}` */
  readonly tail: string;
}

/** A sealed record with its RFC 6962 leaf hash (what a journal's Merkle accumulator appends). */
export interface ChainSealedRecord extends SealedRecord {
  readonly leaf: Uint8Array;
}

/** What {@link sealChain} gives: the sealed records, and their lines as one journal would append them. */
export interface SealedChain {
  readonly records: readonly ChainSealedRecord[];
  /** Every record's `bytes` followed by a newline, in order (each `bytes` is a view into this). */
  readonly lines: Uint8Array;
}

/** A {@link Signer} that can also seal a whole chain of prepared records off the calling thread. */
export interface ChainSigner extends Signer {
  /** Who signs, on both threads: libsodium (`sodium`) or node:crypto (`node`). */
  readonly backend: 'sodium' | 'node';
  /** Seals `records` in order after `prev` (see {@link sealChain}); the work runs on a worker thread. */
  sealChain(prev: Digest | null, records: readonly PreparedRecord[]): Promise<SealedChain>;
  /** Stops the worker thread; later `sealChain` calls reject with `SIGNER_UNAVAILABLE`. Idempotent. */
  close(): Promise<void>;
}

const LIMITS = { maxBytes: MAX_RECORD_BYTES } as const;
// Same length as any real digest, so the size limit is checked on the exact final length.
const PREV_PLACEHOLDER: Digest = `sha256:${'0'.repeat(64)}`;
/** The only maker of {@link PreparedRecord}s: sealChain refuses any object it did not make. */
class Prepared implements PreparedRecord {
  readonly #made = true;
  constructor(
    readonly draft: ChainDraft,
    readonly head: string,
    readonly mid: string,
    readonly tail: string,
  ) {
    Object.freeze(this);
  }
  static made(value: unknown): boolean {
    return typeof value === 'object' && value !== null && #made in value;
  }
}

/**
 * Checks and canonicalizes a record for {@link sealChain}: the envelope, the strict I-JSON check and
 * size limit of the whole record, and the body schema, exactly as `sealRecord` does them.
 * @throws RecordsError `RECORD_INVALID`, `RECORD_INVALID_BODY`, `IJSON_*` (the codes `sealRecord` gives)
 * @example
 * const p = prepareRecord({ type: 'checkpoint', stream: 's', seq: 1, at, body, kid: signer.kid });
 */
export function prepareRecord(draft: ChainDraft): PreparedRecord {
  const unsigned: UnsignedRecord = {
    type: draft.type,
    stream: draft.stream,
    seq: draft.seq,
    prev: draft.seq === 1 ? null : PREV_PLACEHOLDER,
    at: draft.at,
    body: draft.body,
    kid: draft.kid,
  };
  checkEnvelope(unsigned, false);
  const prevText = unsigned.prev === null ? 'null' : `"${PREV_PLACEHOLDER}"`;
  const mid = `,"seq":${unsigned.seq},`;
  const head = headOf(unsigned, prevText.length + mid.length) ?? checkedHead(unsigned, prevText, mid);
  // The hand-written check only ever accepts (held to zod by the fast-path harness); otherwise zod decides.
  if (bodyCheckPath.fast(unsigned.type, unsigned.body) !== true) bodyCheck(unsigned, checkedBodySchemas);
  const fixed: ChainDraft = Object.freeze({
    type: unsigned.type,
    stream: unsigned.stream,
    seq: unsigned.seq,
    at: unsigned.at,
    body: unsigned.body,
    kid: unsigned.kid,
  });
  return new Prepared(fixed, head.head, mid, head.tail);
}

/** A record's `head` and `tail` texts (see {@link PreparedRecord}). */
interface HeadAndTail {
  readonly head: string;
  readonly tail: string;
}

// The body composed alone sits one level higher than in its record; two levels of margin keep the
// short path to bodies the whole record's canonicalization surely accepts.
const BODY_LIMITS = { maxBytes: MAX_RECORD_BYTES, maxDepth: DEFAULT_IJSON_LIMITS.maxDepth - 2 } as const;

/** A cache: the last stream and its canonical text (a journal appends to one stream). */
let streamText: { readonly stream: string; readonly text: string } | undefined;

/**
 * The head and tail of a record whose envelope `checkEnvelope` accepted, composed from the body's
 * canonical text alone: RFC 8785 orders the members at, body, kid, prev, seq, stream, type, and
 * `at`, `kid` and `type` are plain ASCII by their patterns. Undefined whenever the body or the
 * stream is refused, or the record's length is anywhere near the limit: the caller then
 * canonicalizes the whole record, which refuses exactly as `sealRecord` does. (The limit is on
 * I-JSON's size estimate of the record, which is at most its text's length.)
 */
function headOf(unsigned: UnsignedRecord, middle: number): HeadAndTail | undefined {
  let body: string;
  let stream: string;
  try {
    body = canonicalize(unsigned.body, BODY_LIMITS);
    if (streamText?.stream !== unsigned.stream)
      streamText = { stream: unsigned.stream, text: canonicalize(unsigned.stream) };
    stream = streamText.text;
  } catch {
    return undefined;
  }
  const head = '{"at":"' + unsigned.at + '","body":' + body + ',"kid":"' + unsigned.kid + '","prev":';
  const tail = '"stream":' + stream + ',"type":"' + unsigned.type + '"}';
  if (head.length + middle + tail.length > MAX_RECORD_BYTES) return undefined;
  // Reading a character flattens the composed head (many small pieces) into one string now, while
  // its pieces are young; left as pieces until the batch is written for the worker, they are
  // copied by every scavenge meanwhile and flattened from scattered memory then.
  if (head.charCodeAt(0) !== 0x7b) throw new Error('invariant: a record head starts with {');
  return { head, tail };
}

/** The head and tail cut out of the whole record's canonical text (every check, every refusal). */
function checkedHead(unsigned: UnsignedRecord, prevText: string, mid: string): HeadAndTail {
  const text = canonicalize(unsigned, LIMITS);
  const tail = `"stream":${JSON.stringify(unsigned.stream)},"type":${JSON.stringify(unsigned.type)}}`;
  const headLength = text.length - tail.length - mid.length - prevText.length;
  const head = text.slice(0, headLength);
  if (!head.endsWith('"prev":') || text.slice(headLength) !== prevText + mid + tail)
    throw new Error('invariant: canonical record does not have the at…type member order');
  return { head, tail };
}

/**
 * Refuses a chain that `sealRecord` would refuse: records not made by {@link prepareRecord}, seqs
 * that do not follow each other, `prev` null other than at seq 1, a kid that is not the signer's.
 */
function checkChain(prev: Digest | null, records: readonly PreparedRecord[], kid: string): void {
  for (const [i, r] of records.entries()) {
    if (!Prepared.made(r)) throw new TypeError('sealChain takes records made by prepareRecord');
    const seq = r.draft.seq;
    if (i > 0 && seq !== records[i - 1]!.draft.seq + 1)
      throw new RecordsError('RECORD_INVALID', 'seqs of a chain must follow each other at /seq', '/seq');
    if (i === 0 && (prev === null) !== (seq === 1))
      throw new RecordsError('RECORD_INVALID', 'only seq 1 has prev null at /prev', '/prev');
    if (r.draft.kid !== kid)
      throw new RecordsError('RECORD_KID_MISMATCH', `record kid ${r.draft.kid} is not the signer's ${kid}`);
  }
}

const prevTextOf = (prev: Digest | null): string => (prev === null ? 'null' : `"${prev}"`);

/**
 * Seals prepared records in order: the first one's `prev` is `prev` (null only for seq 1), each
 * next one's is the hash of the line before. The result is byte-identical to calling `sealRecord`
 * on each record in turn. A {@link ChainSigner} does the work on its worker thread; any other
 * signer signs here, one record after the other.
 * @throws RecordsError `RECORD_INVALID` (broken seq/prev), `RECORD_KID_MISMATCH`, `SIG_INVALID` (a
 *   signature that is not 64 bytes), `SIGNER_UNAVAILABLE` (the worker stopped or was closed);
 *   whatever a plain signer throws
 * @example
 * const [sealed] = await sealChain(null, [prepareRecord(draft)], signer);
 */
export async function sealChain(
  prev: Digest | null,
  records: readonly PreparedRecord[],
  signer: Signer,
): Promise<SealedChain> {
  checkChain(prev, records, signer.kid);
  if (isChainSigner(signer)) return signer.sealChain(prev, records);
  const lines: Buffer[] = [];
  const hashes: Digest[] = [];
  const sigs: string[] = [];
  let tip = prev;
  for (const r of records) {
    const prevText = prevTextOf(tip);
    const unsigned = Buffer.from(r.head + prevText + r.mid + r.tail, 'utf8');
    const signature = await signer.sign(Buffer.concat([PREFIX, unsigned]));
    if (!(signature instanceof Uint8Array) || signature.length !== 64)
      throw new RecordsError('SIG_INVALID', 'the signer returned a signature that is not 64 bytes');
    const sig = toBase64url(signature);
    const line = Buffer.from(`${r.head}${prevText}${r.mid}"sig":"${sig}",${r.tail}\n`, 'utf8');
    tip = digestBytes(line.subarray(0, line.length - 1));
    lines.push(line);
    hashes.push(tip);
    sigs.push(sig);
  }
  const joined = Buffer.concat(lines);
  const lengths = lines.map((l) => l.length - 1);
  return assemble(prev, records, joined, lengths, sigs, hashes, undefined);
}

/**
 * Builds the result from the joined lines: record objects, byte views and leaf hashes (computed
 * here unless the worker sent them, 32 bytes per record).
 */
function assemble(
  prev: Digest | null,
  records: readonly PreparedRecord[],
  joined: Buffer,
  lengths: ArrayLike<number>,
  sigs: readonly string[],
  hashes: readonly Digest[],
  leaves: Uint8Array | undefined,
): SealedChain {
  const out: ChainSealedRecord[] = [];
  let off = 0;
  let tip = prev;
  for (const [i, r] of records.entries()) {
    const length = lengths[i]!;
    const bytes = joined.subarray(off, off + length);
    const leaf = leaves === undefined ? leafHash(bytes) : leaves.subarray(32 * i, 32 * i + 32);
    out.push(sealedOf(r, tip, sigs[i]!, bytes, hashes[i]!, leaf));
    tip = hashes[i]!;
    off += length + 1;
  }
  return { records: out, lines: joined };
}

function sealedOf(
  r: PreparedRecord,
  prev: Digest | null,
  sig: string,
  bytes: Uint8Array,
  hash: Digest,
  leaf: Uint8Array,
): ChainSealedRecord {
  const d = r.draft;
  return {
    record: { type: d.type, stream: d.stream, seq: d.seq, prev, at: d.at, body: d.body, kid: d.kid, sig },
    bytes,
    hash,
    leaf,
  };
}

/**
 * True when `signer` is a {@link ChainSigner} made by {@link createWorkerSigner}.
 * @example
 * isChainSigner(createNodeSigner(pem)); // false
 */
export function isChainSigner(signer: Signer): signer is ChainSigner {
  return chainSigners.has(signer);
}
const chainSigners = new WeakSet<Signer>();

/** Options of {@link createWorkerSigner}. */
export interface WorkerSignerOptions {
  /**
   * Who signs, on both threads: `sodium` (libsodium) or `node` (node:crypto). Default
   * `defaultEd25519Backend()`: libsodium when the addon loads. The signatures are the same bytes.
   */
  readonly backend?: 'sodium' | 'node';
}

/**
 * The request for the sealing worker: the records' heads as UTF-8 in one buffer, handed over (not
 * copied), and their short `mid` and `tail` texts. Posting the heads as strings made the structured
 * clone copy the largest part of every record on this thread, where writing it as UTF-8 once costs
 * less, and the worker then needs the bytes anyway. The buffer is `spare` (the one the worker handed
 * back with its last reply) when it is large enough: a fresh buffer of this size is fresh memory
 * from the system, and its first write page-faults on every page of it.
 */
function sealRequest(
  id: number,
  prev: Digest | null,
  records: readonly PreparedRecord[],
  spare: ArrayBuffer | undefined,
): SealRequest {
  let room = 0;
  for (const r of records) room += 3 * r.head.length;
  const heads =
    spare !== undefined && spare.byteLength >= room
      ? Buffer.from(spare)
      : Buffer.allocUnsafeSlow(Math.max(room, HEADS_ROOM));
  const headEnds = new Uint32Array(records.length);
  const rest: string[] = [];
  let end = 0;
  for (const [i, r] of records.entries()) {
    end += heads.write(r.head, end, 'utf8');
    headEnds[i] = end;
    rest.push(r.mid, r.tail);
  }
  return { id, prev, heads: heads.buffer, headEnds, rest };
}
/** The least room of a heads buffer: a batch's worth, so one buffer goes back and forth. */
const HEADS_ROOM = 1 << 18;

/**
 * A {@link ChainSigner} for an Ed25519 private key (PEM or KeyObject): `sign` runs on the calling
 * thread, `sealChain` on one worker thread that holds a copy of the key. Both sign with libsodium
 * when `sodium-native` loads, else with node:crypto (see `options.backend`). Once the worker
 * failed or `close()` was called, both reject with `SIGNER_UNAVAILABLE`. The worker starts at
 * once and keeps the process alive only while a seal is in flight; call `close()` when done.
 * @throws RecordsError `KEY_INVALID` (unparsable PEM or not a private key), `KEY_UNSUPPORTED` (not
 *   Ed25519), `ED25519_BACKEND_UNAVAILABLE` (`sodium` named and the addon did not load)
 * @example
 * const signer = createWorkerSigner(pem);
 * const journal = await openFileJournal({ path, stream, signer }); // seals on the worker
 */
export function createWorkerSigner(
  privateKey: string | KeyObject,
  options: WorkerSignerOptions = {},
): ChainSigner {
  const key = privateKeyObjectOf(privateKey);
  const backend = options.backend ?? defaultEd25519Backend();
  if (backend !== 'sodium' && backend !== 'node')
    throw new TypeError(`unknown worker signer backend ${String(backend)}`);
  // The same checks as the main-thread signer's (KEY_UNSUPPORTED, ED25519_BACKEND_UNAVAILABLE).
  const local = backend === 'sodium' ? createSodiumSigner(key) : createNodeSigner(key);
  const publicKey = local.publicKey;
  const kid = kidOf(publicKey);

  const pending = new Map<
    number,
    {
      readonly prev: Digest | null;
      readonly records: readonly PreparedRecord[];
      readonly resolve: (sealed: SealedChain) => void;
      readonly reject: (error: Error) => void;
    }
  >();
  let nextId = 0;
  /** The heads buffer the worker handed back, reused by the next request. */
  let spare: ArrayBuffer | undefined;
  let failure: Error | undefined;
  let worker: Worker | undefined;

  const fail = (error: Error): void => {
    failure ??= error;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  const start = (): Worker => {
    const workerData: SealWorkerData = {
      key,
      prefix: PREFIX,
      backend,
      publicKey: Uint8Array.from(publicKey),
    };
    const w = startWorkerModule(import.meta.url, './internal/seal-worker', { workerData });
    w.on('message', (m: SealReply) => {
      const job = pending.get(m.id);
      pending.delete(m.id);
      if (pending.size === 0) w.unref();
      if (job === undefined) return;
      if (m.error !== undefined) {
        job.reject(new RecordsError('SIGNER_UNAVAILABLE', `the sealing worker failed: ${m.error}`));
        return;
      }
      // The heads buffer comes back for the next request (it may be absent: then one is made).
      if (m.heads !== undefined && m.heads.byteLength > (spare?.byteLength ?? 0)) spare = m.heads;
      try {
        if (m.lengths.length !== job.records.length || m.used > m.buf.byteLength)
          throw new Error('reply does not match the request');
        const joined = Buffer.from(m.buf, 0, m.used);
        const hashes = m.hashes as Digest[];
        job.resolve(
          assemble(job.prev, job.records, joined, m.lengths, m.sigs, hashes, new Uint8Array(m.leaves)),
        );
      } catch (error) {
        job.reject(
          new RecordsError('SIGNER_UNAVAILABLE', `the sealing worker replied wrongly: ${String(error)}`),
        );
      }
    });
    w.on('error', (error) =>
      fail(new RecordsError('SIGNER_UNAVAILABLE', `the sealing worker failed: ${error.message}`)),
    );
    w.on('exit', (code) =>
      fail(new RecordsError('SIGNER_UNAVAILABLE', `the sealing worker exited (code ${code})`)),
    );
    // After the listeners: adding a 'message' listener refs the worker again.
    w.unref();
    return w;
  };

  const signer: ChainSigner = Object.freeze({
    kid,
    publicKey,
    backend,
    sign: (message: Uint8Array): Promise<Uint8Array> => {
      // One signer, one state: once its worker failed or it was closed, it signs nothing.
      if (failure !== undefined) return Promise.reject(failure);
      return local.sign(message);
    },
    sealChain: (prev: Digest | null, records: readonly PreparedRecord[]): Promise<SealedChain> => {
      if (failure !== undefined) return Promise.reject(failure);
      try {
        checkChain(prev, records, kid);
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new TypeError(String(error)));
      }
      if (records.length === 0) return Promise.resolve({ records: [], lines: new Uint8Array(0) });
      worker ??= start();
      const w = worker;
      const request = sealRequest(nextId++, prev, records, spare);
      if (request.heads === spare) spare = undefined;
      return new Promise<SealedChain>((resolve, reject) => {
        pending.set(request.id, { prev, records, resolve, reject });
        w.ref();
        w.postMessage(request, [request.heads, request.headEnds.buffer as ArrayBuffer]);
      });
    },
    close: async (): Promise<void> => {
      fail(new RecordsError('SIGNER_UNAVAILABLE', 'the worker signer is closed'));
      const w = worker;
      worker = undefined;
      if (w !== undefined) await w.terminate();
    },
  });
  chainSigners.add(signer);
  // Started now, not at the first seal: a thread (and libsodium in it) takes a while to boot, which
  // then overlaps the journal's open and recovery instead of delaying the first append.
  worker = start();
  return signer;
}
