/**
 * The verifying worker of `createWorkerVerifier` (signature-pool.ts): checks batches of Ed25519
 * signatures with `verifyEd25519` from @edca/records, i.e. the one strict policy (RFC 8032 §5.1.7
 * with S < L, R and the key canonical encodings not of small order) and the backend the main
 * thread chose. A batch is one transferred buffer of jobs: key index, message length and signature
 * length (three little-endian u32), the signature, the message.
 */
// The narrow entry: a worker starts without the rest of the package (its schemas).
import { verifyEd25519 } from '@edca/records/ed25519';
import { parentPort, workerData } from 'node:worker_threads';

/** What the main thread hands the worker when it starts. */
export interface SignatureWorkerData {
  /** The trusted keys by index; null for a key the strict policy refuses. */
  readonly keys: readonly (Uint8Array | null)[];
  readonly backend: 'sodium' | 'node';
}

/** One batch of checks. */
export interface SignatureBatch {
  readonly id: number;
  readonly buf: ArrayBuffer;
  readonly count: number;
}

/** The verdicts of one batch, 1 for a valid signature, in job order. */
export interface SignatureVerdicts {
  readonly id: number;
  readonly out: Uint8Array;
}

const { keys, backend } = workerData as SignatureWorkerData;
const port = parentPort;
if (port === null) throw new Error('signature-worker runs only as a worker thread');

port.on('message', (m: SignatureBatch) => {
  const view = Buffer.from(m.buf);
  const out = new Uint8Array(m.count);
  let off = 0;
  for (let i = 0; i < m.count; i++) {
    const key = keys[view.readUInt32LE(off)];
    const length = view.readUInt32LE(off + 4);
    const sigLength = view.readUInt32LE(off + 8);
    off += 12;
    const sig = view.subarray(off, off + sigLength);
    off += sigLength;
    const message = view.subarray(off, off + length);
    off += length;
    out[i] = key !== null && key !== undefined && verifyEd25519(key, message, sig, backend) ? 1 : 0;
  }
  const reply: SignatureVerdicts = { id: m.id, out };
  port.postMessage(reply, [out.buffer]);
});
