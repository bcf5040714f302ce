import { describe, expect, it } from 'vitest';
import {
  ACTIVATION_DOMAIN,
  activationMessage,
  createNodeSigner,
  digestValue,
  generateKeyPair,
  kidOf,
  POLICY_OWNER_ROLE,
  privateKeyPemFromSeed,
  signActivation,
  trustedKeyFor,
  verifyActivation,
  type ActivationStatement,
  type TrustFile,
} from '@edca/records';

const ownerSeed = new Uint8Array(32).fill(7);
const approverSeed = new Uint8Array(32).fill(8);
const owner = generateKeyPair(ownerSeed);
const approver = generateKeyPair(approverSeed);
const trust: TrustFile = {
  version: 1,
  keys: [
    trustedKeyFor(owner.publicKey, POLICY_OWNER_ROLE, '2026-01-01T00:00:00Z', {
      notAfter: '2027-01-01T00:00:00Z',
    }),
    trustedKeyFor(approver.publicKey, 'approver', '2026-01-01T00:00:00Z'),
  ],
};
const mapDigest = digestValue({ map: 'refunds', v: 3 });
const statement: ActivationStatement = {
  domain: ACTIVATION_DOMAIN,
  map: 'refunds',
  mapDigest,
  revision: 4,
  tests: digestValue({ passed: 12 }),
  owner: { kid: kidOf(owner.publicKey), role: POLICY_OWNER_ROLE },
  at: '2026-06-01T12:00:00Z',
};
const expected = { map: 'refunds', mapDigest };

describe('policy activation statements', () => {
  it('verifies a statement signed by a policy owner and binds it to the map content', async () => {
    const signed = await signActivation(statement, createNodeSigner(privateKeyPemFromSeed(ownerSeed)));
    expect(verifyActivation(signed, trust, expected)).toEqual({ ok: true, statement });
    const other = verifyActivation(signed, trust, { map: 'refunds', mapDigest: digestValue('other') });
    expect(other).toMatchObject({ ok: false, code: 'ACTIVATION_MISMATCH' });
  });

  it('refuses a key without the policy-owner role, or outside its window', async () => {
    const byApprover = await signActivation(
      { ...statement, owner: { kid: kidOf(approver.publicKey), role: POLICY_OWNER_ROLE } },
      createNodeSigner(privateKeyPemFromSeed(approverSeed)),
    );
    expect(verifyActivation(byApprover, trust, expected)).toMatchObject({ code: 'ACTIVATION_UNTRUSTED' });
    const late = await signActivation(
      { ...statement, at: '2027-02-01T00:00:00Z' },
      createNodeSigner(privateKeyPemFromSeed(ownerSeed)),
    );
    expect(verifyActivation(late, trust, expected)).toMatchObject({ code: 'ACTIVATION_UNTRUSTED' });
  });

  it('refuses every edit of a signed statement, a non-canonical signature and extra fields', async () => {
    const signed = await signActivation(statement, createNodeSigner(privateKeyPemFromSeed(ownerSeed)));
    for (const edit of [{ revision: 5 }, { tests: digestValue('x') }, { at: '2026-06-01T12:00:01Z' }]) {
      const forged = { ...signed, statement: { ...statement, ...edit } };
      expect(verifyActivation(forged, trust, expected)).toMatchObject({ code: 'ACTIVATION_INVALID' });
    }
    const last = signed.sig.at(-1) ?? 'A';
    const respelled = signed.sig.slice(0, -1) + String.fromCharCode(last.charCodeAt(0) ^ 1);
    expect(verifyActivation({ ...signed, sig: respelled }, trust, expected).ok).toBe(false);
    expect(verifyActivation({ ...signed, extra: 1 }, trust, expected)).toMatchObject({
      code: 'ACTIVATION_INVALID',
    });
    for (const revision of [0, -1, 1.5]) {
      const bad = { ...signed, statement: { ...statement, revision } };
      expect(verifyActivation(bad, trust, expected)).toMatchObject({ code: 'ACTIVATION_INVALID' });
    }
  });

  it('signs domain-separated bytes', () => {
    const text = new TextDecoder().decode(activationMessage(statement));
    expect(text.startsWith(`${ACTIVATION_DOMAIN}\n{`)).toBe(true);
  });
});
