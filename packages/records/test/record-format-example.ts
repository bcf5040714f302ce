// The worked example of docs/record-format.md, rebuilt from the fixed test seed; the doc test
// (record-format.test.ts) checks the doc against it and re-verifies what the doc shows.
import {
  createNodeSigner,
  digestValue,
  leafHash,
  merkleRoot,
  privateKeyPemFromSeed,
  sealRecord,
  signingMessage,
  toBase64url,
  type SealedRecord,
  type Signer,
  type UnsignedRecord,
} from '@edca/records';

/** 0x01 0x02 … 0x20: a published test seed, never a real key. */
export const EXAMPLE_SEED = new Uint8Array(32).map((_b, i) => i + 1);

export interface Example {
  readonly signer: Signer;
  readonly sealed: readonly SealedRecord[];
  readonly signingMessages: readonly Uint8Array[];
  readonly root: Uint8Array;
}

export async function buildExample(): Promise<Example> {
  const signer = createNodeSigner(privateKeyPemFromSeed(EXAMPLE_SEED));
  const policyDigest = digestValue({ policy: 'refunds', version: '1.0.0' });
  const r1: UnsignedRecord = {
    type: 'policy.activated',
    stream: 'example',
    seq: 1,
    prev: null,
    at: '2026-03-01T09:00:00.000Z',
    kid: signer.kid,
    body: { policyDigest, name: 'refunds', version: '1.0.0', owner: 'payments-ops' },
  };
  const s1 = await sealRecord(r1, signer);
  const r2: UnsignedRecord = {
    type: 'attempt',
    stream: 'example',
    seq: 2,
    prev: s1.hash,
    at: '2026-03-01T09:00:01.500Z',
    kid: signer.kid,
    body: {
      permit: digestValue('permit'),
      actionHash: digestValue('action'),
      idempotencyKey: 'refund-7Hq2-1',
      try: 1,
    },
  };
  const s2 = await sealRecord(r2, signer);
  const root = merkleRoot([s1.bytes, s2.bytes].map(leafHash));
  const r3: UnsignedRecord = {
    type: 'checkpoint',
    stream: 'example',
    seq: 3,
    prev: s2.hash,
    at: '2026-03-01T09:00:02.000Z',
    kid: signer.kid,
    body: { size: 2, root: toBase64url(root) },
  };
  const s3 = await sealRecord(r3, signer);
  return { signer, sealed: [s1, s2, s3], signingMessages: [r1, r2, r3].map(signingMessage), root };
}
