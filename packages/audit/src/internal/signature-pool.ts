import type { Worker } from 'node:worker_threads';
import { isAcceptablePublicKey, isEd25519BackendAvailable, startWorkerModule } from '@edca/records';
import type { SignatureBatch, SignatureVerdicts, SignatureWorkerData } from './signature-worker.js';

// Ed25519 verification split across worker threads (internal/signature-worker.ts): the main thread
// keeps the chain, hash and bookkeeping work, the workers do the signature checks, with the same
// `verifyEd25519` of @edca/records as the inline verifier. Keys are vetted once on the main thread
// with `isAcceptablePublicKey`.

/**
 * Receives each result with the caller's tag. One function for the whole run, not a closure per
 * check: a closure would keep its record's whole scope alive until the workers answer.
 */
export type OnSignature = (valid: boolean, tag: number) => void;

/** A queue of signature checks whose results arrive through `OnSignature`, all before `drain()` resolves. */
export interface SignatureVerifier {
  /**
   * Queues one check of `signature` over `message` under key number `keyIndex`; `tag` (a safe
   * integer) comes back with the result. The message may be given as parts (concatenated in
   * order), so signed bytes are not copied twice.
   */
  submit(
    keyIndex: number,
    message: Uint8Array | readonly Uint8Array[],
    signature: Uint8Array,
    tag: number,
  ): void;
  /**
   * Queues the check of a journal record's own signature without slicing or decoding anything
   * here: the message is `prefix` ‖ `line` less its `skip` bytes from `cut` (the sig member), and
   * the signature is the canonical unpadded base64url text `sig` of 64 bytes.
   */
  submitRecord(
    keyIndex: number,
    prefix: Uint8Array,
    line: Buffer,
    cut: number,
    skip: number,
    sig: string,
    tag: number,
  ): void;
  /**
   * True when enough checks are queued that the caller should `await capacity()` before it
   * submits more: the caller decodes far faster than Ed25519 verifies, and an unbounded queue
   * keeps every pending message alive until the end (old-space garbage, long GC pauses).
   */
  readonly saturated: boolean;
  /** Resolves when the queue has room again (at once if it has); rejects if a worker dies. */
  capacity(): Promise<void>;
  /** Resolves once every submitted check has reported; rejects if a worker dies. */
  drain(): Promise<void>;
  /** Stops the workers. */
  close(): Promise<void>;
  /** How many checks were submitted. */
  readonly submitted: number;
}

type Verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

/** Verifies on the calling thread, at once (small journals, and the reference behaviour). */
export function createInlineVerifier(
  keys: readonly Uint8Array[],
  verify: Verify,
  onResult: OnSignature,
): SignatureVerifier {
  let submitted = 0;
  return {
    submit(keyIndex, message, signature, tag) {
      submitted++;
      const key = keys[keyIndex];
      const bytes = message instanceof Uint8Array ? message : Buffer.concat(message);
      onResult(key !== undefined && verify(key, bytes, signature), tag);
    },
    submitRecord(keyIndex, prefix, line, cut, skip, sig, tag) {
      this.submit(
        keyIndex,
        [prefix, line.subarray(0, cut), line.subarray(cut + skip)],
        Buffer.from(sig, 'base64url'),
        tag,
      );
    },
    saturated: false,
    capacity: () => Promise.resolve(),
    drain: () => Promise.resolve(),
    close: () => Promise.resolve(),
    get submitted() {
      return submitted;
    },
  };
}

interface Job {
  readonly keyIndex: number;
  /** The message, or (with `line`) the prefix before the line. */
  readonly message: Uint8Array | readonly Uint8Array[];
  /** A record line whose `skip` bytes from `cut` are left out of the message. */
  readonly line: Buffer | undefined;
  readonly cut: number;
  readonly skip: number;
  readonly length: number;
  /** Bytes, or canonical base64url text of 64 bytes. */
  readonly signature: Uint8Array | string;
  readonly tag: number;
}

const SIG_BYTES = 64;
const sigLength = (s: Uint8Array | string): number => (typeof s === 'string' ? SIG_BYTES : s.length);

const BATCH = 256;
/** Batches in flight per worker before `saturated`: one being verified, two waiting. */
const IN_FLIGHT_PER_WORKER = 3;

/**
 * Verifies on `threads` worker threads, in batches of 256 checks, with libsodium (`sodium`, the
 * default where the addon loads) or node:crypto (`node`).
 */
export function createWorkerVerifier(
  keys: readonly Uint8Array[],
  threads: number,
  onResult: OnSignature,
  backend: 'sodium' | 'node' = isEd25519BackendAvailable('sodium') ? 'sodium' : 'node',
): SignatureVerifier {
  if (!isEd25519BackendAvailable(backend))
    throw new Error('invariant: the sodium backend was chosen but the addon did not load');
  const workers: { worker: Worker; inFlight: number }[] = [];
  // Only the tags stay behind once a batch is posted: its messages are in the worker's copy.
  const pending = new Map<number, Float64Array>();
  const maxInFlight = threads * IN_FLIGHT_PER_WORKER;
  let roomWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  let batch: Job[] = [];
  let nextId = 0;
  let submitted = 0;
  let failure: Error | undefined;
  let waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  const settle = (): void => {
    if (failure !== undefined) {
      for (const w of [...waiters, ...roomWaiters]) w.reject(failure);
      waiters = [];
      roomWaiters = [];
      return;
    }
    if (pending.size < maxInFlight && roomWaiters.length > 0) {
      for (const w of roomWaiters) w.resolve();
      roomWaiters = [];
    }
    if (pending.size === 0 && batch.length === 0) {
      for (const w of waiters) w.resolve();
      waiters = [];
    }
  };

  const workerKeys = keys.map((k) => (isAcceptablePublicKey(k) ? Uint8Array.from(k) : null));
  for (let i = 0; i < threads; i++) {
    const workerData: SignatureWorkerData = { keys: workerKeys, backend };
    const worker = startWorkerModule(import.meta.url, './signature-worker', { workerData });
    const slot = { worker, inFlight: 0 };
    worker.on('message', (m: SignatureVerdicts) => {
      slot.inFlight--;
      const tags = pending.get(m.id);
      pending.delete(m.id);
      if (tags === undefined) return;
      for (let j = 0; j < tags.length; j++) onResult(m.out[j] === 1, tags[j]!);
      settle();
    });
    worker.on('error', (err) => {
      failure = err;
      settle();
    });
    worker.on('exit', (code) => {
      if (code !== 0 && failure === undefined && pending.size > 0) {
        failure = new Error(`signature worker exited with code ${code}`);
        settle();
      }
    });
    workers.push(slot);
  }

  const flush = (): void => {
    if (batch.length === 0) return;
    const jobs = batch;
    batch = [];
    let size = 0;
    for (const j of jobs) size += 12 + sigLength(j.signature) + j.length;
    // allocUnsafeSlow: an ArrayBuffer of its own, so it can be transferred without a copy.
    const buf = Buffer.allocUnsafeSlow(size);
    let off = 0;
    for (const j of jobs) {
      buf.writeUInt32LE(j.keyIndex, off);
      buf.writeUInt32LE(j.length, off + 4);
      const sigLen = sigLength(j.signature);
      buf.writeUInt32LE(sigLen, off + 8);
      off += 12;
      if (typeof j.signature === 'string') {
        if (buf.write(j.signature, off, SIG_BYTES, 'base64url') !== SIG_BYTES)
          throw new Error('invariant: a record sig is 86 base64url characters of 64 bytes');
      } else buf.set(j.signature, off);
      off += sigLen;
      if (j.line !== undefined) {
        const prefix = j.message as Uint8Array;
        buf.set(prefix, off);
        off += prefix.length;
        off += j.line.copy(buf, off, 0, j.cut);
        off += j.line.copy(buf, off, j.cut + j.skip, j.line.length);
      } else if (j.message instanceof Uint8Array) {
        buf.set(j.message, off);
        off += j.message.length;
      } else {
        for (const part of j.message) {
          buf.set(part, off);
          off += part.length;
        }
      }
    }
    const id = nextId++;
    const tags = new Float64Array(jobs.length);
    for (let j = 0; j < jobs.length; j++) tags[j] = jobs[j]!.tag;
    pending.set(id, tags);
    let target = workers[0]!;
    for (const w of workers) if (w.inFlight < target.inFlight) target = w;
    target.inFlight++;
    const message: SignatureBatch = { id, buf: buf.buffer, count: jobs.length };
    target.worker.postMessage(message, [buf.buffer]);
  };

  return {
    submit(keyIndex, message, signature, tag) {
      submitted++;
      let length = 0;
      if (message instanceof Uint8Array) length = message.length;
      else for (const part of message) length += part.length;
      batch.push({ keyIndex, message, line: undefined, cut: 0, skip: 0, length, signature, tag });
      if (batch.length >= BATCH) flush();
    },
    submitRecord(keyIndex, prefix, line, cut, skip, sig, tag) {
      submitted++;
      const length = prefix.length + line.length - skip;
      batch.push({ keyIndex, message: prefix, line, cut, skip, length, signature: sig, tag });
      if (batch.length >= BATCH) flush();
    },
    get saturated() {
      return pending.size >= maxInFlight;
    },
    capacity() {
      return new Promise<void>((resolve, reject) => {
        roomWaiters.push({ resolve, reject });
        settle();
      });
    },
    drain() {
      flush();
      return new Promise<void>((resolve, reject) => {
        waiters.push({ resolve, reject });
        settle();
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
    get submitted() {
      return submitted;
    },
  };
}
