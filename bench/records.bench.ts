/**
 * `@edca/records` hot paths (issue 2, item 13): canonicalize, digest, Ed25519 sign/verify on every
 * backends, the record envelope (seal = the kernel's signed permit, verifyRecordLine = the auditor's
 * per-record check) and RFC 6962 roots over 1M leaves.
 *
 *   pnpm bench records              # via bench/run.ts
 *   node --import tsx bench/records.bench.ts [--json]
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import {
  canonicalize,
  createNodeSigner,
  createTweetnaclSigner,
  decodeRecord,
  digestBytes,
  encodeRecord,
  leafHash,
  MerkleAccumulator,
  merkleRoot,
  privateKeyPemFromSeed,
  recordHash,
  sealRecord,
  signingMessage,
  signRecord,
  verifyEd25519,
  createSodiumSigner,
  isEd25519BackendAvailable,
  verifyRecord,
  verifyRecordLine,
} from '@edca/records';
import { permitRecord } from '../packages/records/test/fixtures.js';
import { isMain, report, runCases, type BenchRow } from './harness.js';

const D = (c: string): `sha256:${string}` => `sha256:${c.repeat(64)}`;
const seed = new Uint8Array(32).map((_b, i) => i + 1);

/** Runs the records benchmarks. */
export async function runRecordsBench(): Promise<{ rows: BenchRow[]; extra: Record<string, unknown> }> {
  const signer = createNodeSigner(privateKeyPemFromSeed(seed));
  const nacl = createTweetnaclSigner(seed);
  const sodium = isEd25519BackendAvailable('sodium')
    ? createSodiumSigner(privateKeyPemFromSeed(seed))
    : undefined;
  const unsigned = permitRecord(signer.kid);
  const canonical = canonicalize(unsigned);
  const bytes = Buffer.from(canonical, 'utf8');
  const msg = signingMessage(unsigned);
  const sig = await signer.sign(msg);
  const sealed = await sealRecord(unsigned, signer);
  const line = sealed.bytes;
  const pk = signer.publicKey;
  const rawKey = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pk]),
    format: 'der',
    type: 'spki',
  });
  const privateKey = createPrivateKey(privateKeyPemFromSeed(seed));

  // A ~600-byte value (the size the design table quotes) next to the real ~1.1 kB permit record.
  const small = {
    type: 'attempt',
    stream: 'bank-eu-1',
    seq: 3,
    prev: D('c'),
    at: '2026-03-01T09:30:00.250Z',
    kid: signer.kid,
    body: {
      permit: D('6'),
      actionHash: D('4'),
      idempotencyKey: 'refund.issue:ord_7Hq2:4250',
      try: 1,
      note: { channel: 'support-chat', locale: 'de-DE', reason: 'duplicate charge on card' },
      tags: ['refund', 'card', 'eu'],
      amount: { value: 4250, currency: 'EUR', scale: 2 },
    },
  };
  const smallText = canonicalize(small);
  const smallBytes = Buffer.byteLength(smallText);

  const sizeNote = `${bytes.length} B unsigned, ${line.length} B signed line`;

  const rows = await runCases('records', [
    {
      name: `canonicalize ~600 B value (I-JSON check + RFC 8785)`,
      fn: () => canonicalize(small),
      note: `${smallBytes} B`,
    },
    { name: 'digestBytes sha256 of those bytes', fn: () => digestBytes(smallText) },
    {
      name: 'canonicalize decision record (I-JSON check + RFC 8785)',
      fn: () => canonicalize(unsigned),
      note: sizeNote,
    },
    { name: 'JSON.stringify same record (reference only)', fn: () => JSON.stringify(unsigned) },
    { name: 'digestBytes sha256 of canonical bytes', fn: () => digestBytes(bytes) },
    { name: 'ed25519 sign node:crypto (Signer.sign, async)', fn: () => signer.sign(msg) },
    {
      name: 'ed25519 sign node:crypto raw crypto.sign (baseline)',
      fn: () => nodeSign(null, msg, privateKey),
    },
    {
      name: 'ed25519 verify node:crypto strict (verifyEd25519)',
      fn: () => verifyEd25519(pk, msg, sig, 'node'),
    },
    {
      name: 'ed25519 verify node:crypto raw crypto.verify (baseline)',
      fn: () => nodeVerify(null, msg, rawKey, sig),
    },
    ...(sodium === undefined
      ? []
      : [
          { name: 'ed25519 sign libsodium (Signer.sign, async)', fn: () => sodium.sign(msg) },
          {
            name: 'ed25519 verify libsodium strict (verifyEd25519)',
            fn: () => verifyEd25519(pk, msg, sig, 'sodium'),
          },
        ]),
    { name: 'ed25519 sign tweetnacl', fn: () => nacl.sign(msg), time: 500, iterations: 32 },
    {
      name: 'ed25519 verify tweetnacl strict',
      fn: () => verifyEd25519(pk, msg, sig, 'tweetnacl'),
      time: 500,
      iterations: 32,
    },
    {
      name: 'sealRecord node (kernel: signed permit + line + hash)',
      fn: () => sealRecord(unsigned, signer),
      note: 'target ≥ 10,000/s',
    },
    { name: 'signRecord node', fn: () => signRecord(unsigned, signer) },
    {
      name: 'verifyRecordLine node (audit: decode + verify line)',
      fn: () => verifyRecordLine(line, pk, 'node'),
      note: 'target ≥ 8,000/s',
    },
    { name: 'verifyRecord node (object)', fn: () => verifyRecord(sealed.record, pk, 'node') },
    { name: 'decodeRecord (strict, canonical check, body schema)', fn: () => decodeRecord(line) },
    { name: 'encodeRecord', fn: () => encodeRecord(sealed.record) },
    { name: 'recordHash', fn: () => recordHash(sealed.record) },
    { name: 'leafHash of a signed line', fn: () => leafHash(line) },
  ]);
  // The 1M leaf hashes (~100 MB of small objects) exist only for the Merkle cases, so their heap
  // does not slow the garbage collector during the record cases above.
  const M = 1_000_000;
  const leaves = Array.from({ length: M }, (_v, i) => leafHash(Buffer.from(`record ${i}`)));
  rows.push(
    ...(await runCases('records', [
      {
        name: 'merkleRoot of 1,000,000 leaf hashes',
        fn: () => merkleRoot(leaves),
        time: 0,
        iterations: 5,
        warmupTime: 0,
        warmupIterations: 1,
      },
      {
        name: 'MerkleAccumulator: 1,000,000 appends + root',
        fn: () => {
          const acc = new MerkleAccumulator();
          for (const l of leaves) acc.append(l);
          return acc.root();
        },
        time: 0,
        iterations: 5,
        warmupTime: 0,
        warmupIterations: 1,
      },
    ])),
  );
  return {
    rows,
    extra: {
      signedLineBytes: line.length,
      unsignedCanonicalBytes: bytes.length,
      smallValueBytes: smallBytes,
    },
  };
}

if (isMain(import.meta.url)) {
  const { rows, extra } = await runRecordsBench();
  report('records', rows, extra);
}
