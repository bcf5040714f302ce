import {
  createNodeSigner,
  merkleRoot,
  privateKeyPemFromSeed,
  toBase64url,
  type Signer,
  type UnsignedRecord,
} from '@edca/records';

/** A fixed test seed (never a real key). */
export const TEST_SEED = new Uint8Array(32).map((_b, i) => i + 1);
export const testSigner = (): Signer => createNodeSigner(privateKeyPemFromSeed(TEST_SEED));

const D = (c: string): `sha256:${string}` => `sha256:${c.repeat(64)}`;

/** A realistic ~600-byte permit decision record. */
export function permitRecord(kid: string, seq = 2, prev: `sha256:${string}` | null = D('a')): UnsignedRecord {
  return {
    type: 'decision',
    stream: 'bank-eu-1',
    seq,
    prev,
    at: '2026-03-01T09:30:00.125Z',
    kid,
    body: {
      verdict: 'permit',
      decisionKey: D('1'),
      policyDigest: D('2'),
      stateHash: D('3'),
      actionHash: D('4'),
      input: {
        proposal: {
          intent: 'refund.issue',
          params: { order: 'ref:ord_7Hq2', amount: 4250, currency: 'EUR' },
        },
        state: { facets: { order: 'delivered', customer: 'verified' }, machines: { refund: 'none' } },
      },
      rule: 'refund.small-delivered',
      reasons: ['AMOUNT_UNDER_LIMIT', 'ORDER_DELIVERED'],
      accountable: 'payments-ops@bank.example',
      principal: { id: 'agent:support-7', attributes: { team: 'support' } },
      proposer: { model: 'model-x-2026-01', promptTemplate: D('5') },
      expiresAt: '2026-03-01T09:35:00.125Z',
    },
  };
}

export const checkpointRecord = (kid: string, seq = 1): UnsignedRecord => ({
  type: 'checkpoint',
  stream: 'bank-eu-1',
  seq,
  prev: seq === 1 ? null : D('b'),
  at: '2026-03-01T09:30:00.000Z',
  kid,
  body: { size: seq - 1, root: toBase64url(merkleRoot([])) },
});
