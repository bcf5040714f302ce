import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { isAcceptablePublicKey, isEd25519BackendAvailable, startWorkerModule } from '@edca/records';
import { JOB_HEADER_BYTES, verifyBatch } from './batch-verify.js';
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
   * True when a full batch is written but no worker has room for it: the caller should
   * `await capacity()` before it submits more, so the queue (and every message in it) stays bounded.
   */
  readonly saturated: boolean;
  /**
   * Resolves when the batch has gone: to a worker with room, else verified on the calling thread
   * (`helpInline`), else once a worker has room. Rejects if a worker died.
   */
  capacity(): Promise<void>;
  /** Resolves once every submitted check has reported; rejects if a worker dies. */
  drain(): Promise<void>;
  /** Stops the workers. */
  close(): Promise<void>;
  /** How many checks were submitted. */
  readonly submitted: number;
  /** How many of them the calling thread verified itself. */
  readonly inline: number;
}

type Verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

/** Verifies on the calling thread, at once (small journals, and the reference behaviour). */
export function createInlineVerifier(
  keys: readonly Uint8Array[],
  verify: Verify,
  onResult: OnSignature,
): SignatureVerifier {
  let submitted = 0;
  // One message and one signature buffer for the whole run: a record's check then allocates nothing.
  let scratch = Buffer.allocUnsafe(4096);
  const sigBytes = Buffer.allocUnsafe(64);
  return {
    submit(keyIndex, message, signature, tag) {
      submitted++;
      const key = keys[keyIndex];
      const bytes = message instanceof Uint8Array ? message : Buffer.concat(message);
      onResult(key !== undefined && verify(key, bytes, signature), tag);
    },
    submitRecord(keyIndex, prefix, line, cut, skip, sig, tag) {
      submitted++;
      const key = keys[keyIndex];
      const length = prefix.length + line.length - skip;
      if (length > scratch.length) scratch = Buffer.allocUnsafe(2 * length);
      scratch.set(prefix, 0);
      let at = prefix.length;
      at += line.copy(scratch, at, 0, cut);
      line.copy(scratch, at, cut + skip, line.length);
      if (sigBytes.write(sig, 0, 64, 'base64url') !== 64)
        throw new Error('invariant: a record sig is 86 base64url characters of 64 bytes');
      onResult(key !== undefined && verify(key, scratch.subarray(0, length), sigBytes), tag);
    },
    saturated: false,
    capacity: () => Promise.resolve(),
    drain: () => Promise.resolve(),
    close: () => Promise.resolve(),
    get submitted() {
      return submitted;
    },
    get inline() {
      return submitted;
    },
  };
}

const SIG_BYTES = 64;
/** Checks per batch: one message per batch each way, so the per-message cost is shared by many. */
const BATCH = 256;
/** Room for a batch of typical records (about 1 kB each) before the buffer has to grow. */
const BATCH_BYTES = BATCH * 1152;
/** Batches posted per worker and not yet answered: one being verified, two waiting. */
const IN_FLIGHT_PER_WORKER = 3;

/** How the worker pool shares out the checks. */
export interface WorkerVerifierOptions {
  /**
   * When every worker has its batches waiting, the calling thread verifies the next batch itself
   * (in `capacity()` or `drain()`) instead of waiting: its spare time goes to signatures, so fewer
   * workers keep up. Default true; false waits for a worker.
   */
  readonly helpInline?: boolean;
}

// Options a parent may run with that preload code into every thread it starts (a TypeScript
// loader, an APM agent): a signature worker runs one built module of its own and needs none of it,
// and each preload costs every worker its start-up again.
const PRELOAD_OPTIONS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);

/** The parent's Node options without the ones that preload modules. */
export function workerExecArgv(parent: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < parent.length; i++) {
    const arg = parent[i]!;
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (!PRELOAD_OPTIONS.has(name)) kept.push(arg);
    else if (eq === -1) i++; // its value is the next argument
  }
  return kept;
}

// Whether Node refused the parent's options in a worker: it does for V8 and per-process flags
// (`--max-old-space-size`, `--stack-size`, `--perf-basic-prof`), which a worker cannot set for
// itself. Once refused, every later worker starts without them.
let parentOptionsRefused = false;

/**
 * Starts one signature worker and the port its verdicts come back on: with the parent's Node
 * options less its preloads, or with none when Node refuses some of them in a worker (a signature
 * worker needs none; an auditor who raised the heap limit must still get a verification).
 */
function startSignatureWorker(
  keys: readonly (Uint8Array | null)[],
  backend: 'sodium' | 'node',
): { worker: Worker; replies: MessagePort } {
  for (;;) {
    const { port1, port2 } = new MessageChannel();
    const workerData: SignatureWorkerData = { keys, backend, replies: port2 };
    const execArgv = parentOptionsRefused ? [] : workerExecArgv(process.execArgv);
    try {
      const worker = startWorkerModule(import.meta.url, './signature-worker', {
        workerData,
        transferList: [port2],
        execArgv,
      });
      return { worker, replies: port1 };
    } catch (err) {
      port1.close();
      if (parentOptionsRefused || (err as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV')
        throw err;
      parentOptionsRefused = true;
    }
  }
}

interface Slot {
  readonly worker: Worker;
  readonly replies: MessagePort;
  inFlight: number;
}

/**
 * Verifies on `threads` worker threads, in batches of 256 checks written straight into one
 * transferable buffer per batch (which the worker hands back for reuse), with libsodium (`sodium`,
 * the default where the addon loads) or node:crypto (`node`). With `helpInline` (the default) the
 * calling thread verifies a batch itself whenever every worker is busy.
 */
export function createWorkerVerifier(
  keys: readonly Uint8Array[],
  threads: number,
  onResult: OnSignature,
  backend: 'sodium' | 'node' = isEd25519BackendAvailable('sodium') ? 'sodium' : 'node',
  options: WorkerVerifierOptions = {},
): SignatureVerifier {
  if (!isEd25519BackendAvailable(backend))
    throw new Error('invariant: the sodium backend was chosen but the addon did not load');
  const helpInline = options.helpInline ?? true;
  const slots: Slot[] = [];
  // Only the tags stay behind once a batch is posted: its messages are in the worker's buffer.
  const pending = new Map<number, number[]>();
  const maxInFlight = threads * IN_FLIGHT_PER_WORKER;
  const free: Buffer[] = [];
  let roomWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  let waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  let failure: Error | undefined;
  let nextId = 0;
  let submitted = 0;
  let inline = 0;

  // The batch being written.
  let buf: Buffer = Buffer.allocUnsafeSlow(BATCH_BYTES);
  let used = 0;
  let tags: number[] = [];

  const workerKeys = keys.map((k) => (isAcceptablePublicKey(k) ? Uint8Array.from(k) : null));
  const room = (): boolean => pending.size < maxInFlight;

  const onReply = (slot: Slot, m: SignatureVerdicts): void => {
    slot.inFlight--;
    const done = pending.get(m.id);
    pending.delete(m.id);
    if (free.length < IN_FLIGHT_PER_WORKER) free.push(Buffer.from(m.buf));
    if (done === undefined) return;
    for (let j = 0; j < done.length; j++) onResult(m.out[j] === 1, done[j]!);
  };
  // Takes the replies already queued without waiting for the event loop: a caller that never
  // yields (it verifies batches itself) still learns which workers have room.
  const poll = (): void => {
    for (const slot of slots) {
      for (
        let r = receiveMessageOnPort(slot.replies);
        r !== undefined;
        r = receiveMessageOnPort(slot.replies)
      )
        onReply(slot, r.message as SignatureVerdicts);
    }
  };

  const post = (): void => {
    const id = nextId++;
    pending.set(id, tags);
    let target = slots[0]!;
    for (const s of slots) if (s.inFlight < target.inFlight) target = s;
    target.inFlight++;
    const message: SignatureBatch = { id, buf: buf.buffer as ArrayBuffer, length: used, count: tags.length };
    target.worker.postMessage(message, [buf.buffer as ArrayBuffer]);
    buf = free.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES);
    used = 0;
    tags = [];
  };

  const verifyHere = (): void => {
    const out = new Uint8Array(tags.length);
    verifyBatch(buf, tags.length, workerKeys, backend, out);
    const done = tags;
    inline += done.length;
    used = 0;
    tags = [];
    for (let j = 0; j < done.length; j++) onResult(out[j] === 1, done[j]!);
  };

  const settle = (): void => {
    if (failure !== undefined) {
      for (const w of [...waiters, ...roomWaiters]) w.reject(failure);
      waiters = [];
      roomWaiters = [];
      return;
    }
    if (tags.length > 0 && room() && (waiters.length > 0 || (roomWaiters.length > 0 && tags.length >= BATCH)))
      post();
    if (tags.length < BATCH && roomWaiters.length > 0) {
      for (const w of roomWaiters) w.resolve();
      roomWaiters = [];
    }
    if (pending.size === 0 && tags.length === 0) {
      for (const w of waiters) w.resolve();
      waiters = [];
    }
  };

  for (let i = 0; i < threads; i++) {
    const { worker, replies } = startSignatureWorker(workerKeys, backend);
    const slot: Slot = { worker, replies, inFlight: 0 };
    replies.on('message', (m: SignatureVerdicts) => {
      onReply(slot, m);
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
    slots.push(slot);
  }

  // Makes room for `bytes` more in the batch, keeping what is written.
  const reserve = (bytes: number): void => {
    if (used + bytes <= buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(2 * buf.length, used + bytes));
    buf.copy(bigger, 0, 0, used);
    buf = bigger;
  };
  const writeHeader = (keyIndex: number, length: number): void => {
    buf.writeUInt32LE(keyIndex, used);
    buf.writeUInt32LE(length, used + 4);
    buf.writeUInt32LE(SIG_BYTES, used + 8);
    used += JOB_HEADER_BYTES;
  };
  const added = (tag: number): void => {
    submitted++;
    tags.push(tag);
    if (tags.length === BATCH) {
      poll();
      if (room()) post();
    }
  };

  return {
    submit(keyIndex, message, signature, tag) {
      const parts = message instanceof Uint8Array ? [message] : message;
      let length = 0;
      for (const part of parts) length += part.length;
      reserve(JOB_HEADER_BYTES + signature.length + length);
      buf.writeUInt32LE(keyIndex, used);
      buf.writeUInt32LE(length, used + 4);
      buf.writeUInt32LE(signature.length, used + 8);
      used += JOB_HEADER_BYTES;
      buf.set(signature, used);
      used += signature.length;
      for (const part of parts) {
        buf.set(part, used);
        used += part.length;
      }
      added(tag);
    },
    submitRecord(keyIndex, prefix, line, cut, skip, sig, tag) {
      const length = prefix.length + line.length - skip;
      reserve(JOB_HEADER_BYTES + SIG_BYTES + length);
      writeHeader(keyIndex, length);
      if (buf.write(sig, used, SIG_BYTES, 'base64url') !== SIG_BYTES)
        throw new Error('invariant: a record sig is 86 base64url characters of 64 bytes');
      used += SIG_BYTES;
      buf.set(prefix, used);
      used += prefix.length;
      used += line.copy(buf, used, 0, cut);
      used += line.copy(buf, used, cut + skip, line.length);
      added(tag);
    },
    get saturated() {
      return tags.length >= BATCH;
    },
    capacity() {
      if (failure !== undefined) return Promise.reject(failure);
      if (tags.length < BATCH) return Promise.resolve();
      poll();
      if (room()) post();
      else if (helpInline) verifyHere();
      else
        return new Promise<void>((resolve, reject) => {
          roomWaiters.push({ resolve, reject });
          settle();
        });
      return Promise.resolve();
    },
    drain() {
      poll();
      if (tags.length > 0 && failure === undefined) {
        if (room()) post();
        else if (helpInline) verifyHere();
      }
      return new Promise<void>((resolve, reject) => {
        waiters.push({ resolve, reject });
        settle();
      });
    },
    async close() {
      for (const s of slots) s.replies.close();
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
    get submitted() {
      return submitted;
    },
    get inline() {
      return inline;
    },
  };
}
