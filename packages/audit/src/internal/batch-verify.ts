/**
 * One batch of signature checks, as the pool writes it (signature-pool.ts) and as either a worker
 * (signature-worker.ts) or the main thread itself verifies it: jobs one after the other, each
 * the key index, the message length and the signature length (three little-endian u32), then
 * the signature, then the message.
 */
// The narrow entry: a worker starts without the rest of the package (its schemas).
import { verifyEd25519 } from '@edca/records/ed25519';

/** Bytes of a job's header: key index, message length, signature length. */
export const JOB_HEADER_BYTES = 12;

/**
 * Verifies the first `count` jobs of `batch` with records' strict `verifyEd25519` under `keys`
 * (null for a key the strict policy refuses, so every signature under it fails) and writes 1 for
 * a valid signature, 0 otherwise, into `out[0..count)`. A job that names no key, or whose lengths
 * run past the batch, fails (the pool never writes one; a worker must not trust its input).
 */
export function verifyBatch(
  batch: Buffer,
  count: number,
  keys: readonly (Uint8Array | null)[],
  backend: 'sodium' | 'node',
  out: Uint8Array,
): void {
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (off + JOB_HEADER_BYTES > batch.length) {
      out.fill(0, i, count);
      return;
    }
    const key = keys[batch.readUInt32LE(off)];
    const length = batch.readUInt32LE(off + 4);
    const sigLength = batch.readUInt32LE(off + 8);
    off += JOB_HEADER_BYTES;
    const sigEnd = off + sigLength;
    const end = sigEnd + length;
    if (end > batch.length) {
      out.fill(0, i, count);
      return;
    }
    out[i] =
      key !== null &&
      key !== undefined &&
      verifyEd25519(key, batch.subarray(sigEnd, end), batch.subarray(off, sigEnd), backend)
        ? 1
        : 0;
    off = end;
  }
}
