/**
 * The sealing worker of `createWorkerSigner` (seal-chain.ts). It holds the private key (a KeyObject
 * cloned into the thread) and does, per record, exactly what `sealChain` does inline: fill in
 * `prev`, sign the domain-separated unsigned line, splice the `sig` member in before the tail, and
 * hash the line (record hash and RFC 6962 leaf). With the `sodium` backend it signs with libsodium
 * from the key's seed, after checking that libsodium derives the same public key.
 */
import { sign, type KeyObject } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { digestBytes } from '../digest.js';
import { leafHash } from '../merkle.js';
import { sodiumAddon, sodiumUnavailableReason } from './sodium.js';

/** What the main thread hands the worker when it starts. */
export interface SealWorkerData {
  readonly key: KeyObject;
  /** The record signing prefix (`RECORD_SIGNING_PREFIX`). */
  readonly prefix: Uint8Array;
  readonly backend: 'sodium' | 'node';
  readonly publicKey: Uint8Array;
}

/**
 * One chain to seal (see `PreparedRecord`): the records' heads as UTF-8, one after the other in
 * `heads` (record i ends at `headEnds[i]`), and per record its `mid` and `tail` in `rest`.
 */
export interface SealRequest {
  readonly id: number;
  readonly prev: string | null;
  readonly heads: ArrayBuffer;
  readonly headEnds: Uint32Array;
  readonly rest: readonly string[];
}

/** The worker's answer: either `error`, or the sealed lines and per record sig, hash and leaf. */
export type SealReply =
  | { readonly id: number; readonly error: string }
  | {
      readonly id: number;
      readonly error?: undefined;
      readonly sigs: string[];
      readonly hashes: string[];
      readonly lengths: Uint32Array;
      readonly leaves: ArrayBuffer;
      readonly buf: ArrayBuffer;
      /** Bytes of `buf` in use. */
      readonly used: number;
      /** The request's heads buffer, handed back for the next request. */
      readonly heads: ArrayBuffer;
    };

// Per record, room beyond its parts: `null` or a quoted digest (73), the sig member (95), a newline.
const EXTRA_ROOM = 169;

function signerOf(data: SealWorkerData): (message: Buffer) => Buffer {
  if (data.backend === 'node') return (m) => sign(null, m, data.key);
  const sodium = sodiumAddon();
  if (sodium === undefined)
    throw new Error(`libsodium does not load in the worker: ${sodiumUnavailableReason() ?? 'unknown'}`);
  const jwk = data.key.export({ format: 'jwk' });
  if (typeof jwk.d !== 'string') throw new Error('the key has no private part');
  const seed = Buffer.from(jwk.d, 'base64url');
  const pk = Buffer.alloc(32);
  const sk = Buffer.alloc(64);
  sodium.crypto_sign_seed_keypair(pk, sk, seed);
  seed.fill(0);
  if (!pk.equals(data.publicKey)) throw new Error('libsodium derived another public key');
  return (m) => {
    const sig = Buffer.allocUnsafe(64);
    sodium.crypto_sign_detached(sig, m, sk);
    return sig;
  };
}

/** Seals one request: what `sealChain` does inline, into one transferable buffer. */
function seal(m: SealRequest, prefix: Buffer, signBytes: (message: Buffer) => Buffer): SealReply {
  const n = m.headEnds.length;
  if (m.rest.length !== 2 * n) throw new Error('request does not have a mid and a tail per head');
  const heads = Buffer.from(m.heads);
  const sigs = new Array<string>(n);
  const hashes = new Array<string>(n);
  const lengths = new Uint32Array(n);
  const leaves = Buffer.allocUnsafeSlow(32 * n);
  let room = n === 0 ? 0 : m.headEnds[n - 1]!;
  for (const part of m.rest) room += Buffer.byteLength(part, 'utf8');
  const out = Buffer.allocUnsafeSlow(room + EXTRA_ROOM * n);
  let prev = m.prev;
  let off = 0;
  let headStart = 0;
  for (let i = 0; i < n; i++) {
    const headEnd = m.headEnds[i]!;
    if (headEnd < headStart || headEnd > heads.length) throw new Error('head bounds out of range');
    const head = heads.subarray(headStart, headEnd);
    headStart = headEnd;
    const mid = m.rest[2 * i]!;
    const tail = m.rest[2 * i + 1]!;
    const after = (prev === null ? 'null' : `"${prev}"`) + mid + tail;
    // The signed message: prefix, then the unsigned line; grown when a record needs more room.
    const max = prefix.length + head.length + 3 * after.length;
    if (max > scratch.length) {
      scratch = Buffer.allocUnsafe(max);
      prefix.copy(scratch);
    }
    head.copy(scratch, prefix.length);
    const length = head.length + scratch.write(after, prefix.length + head.length, 'utf8');
    const signature = signBytes(scratch.subarray(0, prefix.length + length));
    if (signature.length !== 64) throw new Error('signature is not 64 bytes');
    const sig = signature.toString('base64url');
    // The signed line is the unsigned one with the sig member spliced in before the tail.
    const cut = prefix.length + length - Buffer.byteLength(tail, 'utf8');
    scratch.copy(out, off, prefix.length, cut);
    let at = off + cut - prefix.length;
    at += out.write(`"sig":"${sig}",`, at, 'latin1');
    at += scratch.copy(out, at, cut, prefix.length + length);
    const line = out.subarray(off, at);
    const digest = digestBytes(line);
    leaves.set(leafHash(line), 32 * i);
    if (at >= out.length) throw new Error('line larger than its room');
    out[at] = 0x0a;
    sigs[i] = sig;
    hashes[i] = digest;
    lengths[i] = at - off;
    off = at + 1;
    prev = digest;
  }
  return {
    id: m.id,
    sigs,
    hashes,
    lengths,
    leaves: leaves.buffer,
    buf: out.buffer,
    used: off,
    heads: m.heads,
  };
}

const data = workerData as SealWorkerData;
const prefix = Buffer.from(data.prefix);
const signBytes = signerOf(data);
// This worker's one message buffer (the prefix, then each record's bytes), grown when a record is
// larger: per thread, and never read past what the current message wrote.
let scratch = Buffer.allocUnsafe(1 << 16);
prefix.copy(scratch);
const port = parentPort;
if (port === null) throw new Error('seal-worker runs only as a worker thread');
port.on('message', (m: SealRequest) => {
  let reply: SealReply;
  try {
    reply = seal(m, prefix, signBytes);
  } catch (e) {
    port.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) });
    return;
  }
  if (reply.error === undefined)
    port.postMessage(reply, [reply.lengths.buffer as ArrayBuffer, reply.leaves, reply.buf, reply.heads]);
});
