/**
 * The verifying worker of `createWorkerVerifier` (signature-pool.ts): checks batches of Ed25519
 * signatures with `verifyBatch` (batch-verify.ts), i.e. records' one strict policy (RFC 8032
 * §5.1.7 with S < L, R and the key canonical encodings not of small order) and the backend the
 * main thread chose. A batch arrives as one transferred buffer and goes back, with the verdicts,
 * on the reply port the main thread gave, so the main thread can write its next batch into it.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { verifyBatch } from './batch-verify.js';

/** What the main thread hands the worker when it starts. */
export interface SignatureWorkerData {
  /** The trusted keys by index; null for a key the strict policy refuses. */
  readonly keys: readonly (Uint8Array | null)[];
  readonly backend: 'sodium' | 'node';
  /** Where the verdicts go: a port the main thread can also read synchronously. */
  readonly replies: MessagePort;
}

/** One batch of checks: `count` jobs in the first `length` bytes of `buf`. */
export interface SignatureBatch {
  readonly id: number;
  readonly buf: ArrayBuffer;
  readonly length: number;
  readonly count: number;
}

/** The verdicts of one batch, 1 for a valid signature, in job order, and the batch's buffer back. */
export interface SignatureVerdicts {
  readonly id: number;
  readonly out: Uint8Array;
  readonly buf: ArrayBuffer;
}

const { keys, backend, replies } = workerData as SignatureWorkerData;
const port = parentPort;
if (port === null) throw new Error('signature-worker runs only as a worker thread');

port.on('message', (m: SignatureBatch) => {
  const out = new Uint8Array(m.count);
  verifyBatch(Buffer.from(m.buf, 0, m.length), m.count, keys, backend, out);
  const reply: SignatureVerdicts = { id: m.id, out, buf: m.buf };
  replies.postMessage(reply, [out.buffer, m.buf]);
});
