import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  createNodeSigner,
  generateKeyPair,
  trustedKeyFor,
  verifyActivation,
  type TrustFile,
} from '@edca/records';
import { loadStateMap, type CompiledMap } from '@edca/semantic';
import { describe, expect, it } from 'vitest';
import { parseSuite, reportDigest, signPolicy, type TestSuite } from '@edca/policy';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const AT = '2026-12-05T12:00:00.000Z';

function fixture(): { map: CompiledMap; suite: TestSuite } {
  const path = 'fixtures/maps/retail-banking.yaml';
  const r = loadStateMap(readFileSync(`${ROOT}${path}`, 'utf8'), path);
  if (!r.ok) throw new Error('fixture map invalid');
  const text = readFileSync(`${ROOT}fixtures/maps/retail-banking.tests.yaml`, 'utf8');
  return { map: r.value, suite: parseSuite(text, 'retail-banking.tests.yaml') };
}

function owner(role = 'policy-owner', notBefore = '2026-01-01T00:00:00Z') {
  const signer = createNodeSigner(generateKeyPair().privateKeyPem);
  const trust: TrustFile = { version: 1, keys: [trustedKeyFor(signer.publicKey, role, notBefore)] };
  return { signer, trust };
}

describe('signPolicy', () => {
  describe('when every case passes', () => {
    it('signs an activation a kernel accepts, binding map, digest, revision and the report digest', async () => {
      const { map, suite } = fixture();
      const { signer, trust } = owner();
      const r = await signPolicy({ map, suites: [suite], signer, trust, revision: 4, at: AT });
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.activation.statement).toEqual({
        domain: 'edca-activation-v1',
        map: map.name,
        mapDigest: map.digest,
        revision: 4,
        tests: reportDigest(r.report),
        owner: { kid: signer.kid, role: 'policy-owner' },
        at: AT,
      });
      expect(verifyActivation(r.activation, trust, { map: map.name, mapDigest: map.digest }).ok).toBe(true);
    }, 60_000);
  });

  describe('when it must not sign', () => {
    it('returns TESTS_FAILED with the report, and no activation, when a case fails', async () => {
      const { map, suite } = fixture();
      const broken: TestSuite = {
        ...suite,
        cases: suite.cases.map((c, i) => (i === 0 ? { ...c, expect: { verdict: 'refuse' } } : c)),
      };
      const { signer, trust } = owner();
      const r = await signPolicy({ map, suites: [broken], signer, trust, revision: 1, at: AT });
      expect(r).toMatchObject({ ok: false, code: 'TESTS_FAILED' });
      expect(r).not.toHaveProperty('activation');
      expect(r.report.summary.failed).toBe(1);
    }, 60_000);

    const refusals: [string, () => ReturnType<typeof owner>, string][] = [
      ['a key of another role', () => owner('refund-approver'), 'KEY_NOT_POLICY_OWNER'],
      ['a key not yet valid', () => owner('policy-owner', '2027-01-01T00:00:00Z'), 'KEY_NOT_POLICY_OWNER'],
      [
        'a key missing from the trust file',
        () => ({ signer: owner().signer, trust: owner().trust }),
        'KEY_NOT_POLICY_OWNER',
      ],
    ];
    for (const [what, make, code] of refusals) {
      it(`refuses ${what} with ${code} before running anything`, async () => {
        const { map, suite } = fixture();
        const { signer, trust } = make();
        await expect(
          signPolicy({ map, suites: [suite], signer, trust, revision: 1, at: AT }),
        ).rejects.toMatchObject({
          code,
        });
      });
    }

    for (const revision of [0, -1, 1.5, Number.MAX_SAFE_INTEGER + 1, Number.NaN]) {
      it(`refuses revision ${revision} with REVISION_INVALID`, async () => {
        const { map, suite } = fixture();
        const { signer, trust } = owner();
        await expect(
          signPolicy({ map, suites: [suite], signer, trust, revision, at: AT }),
        ).rejects.toMatchObject({
          code: 'REVISION_INVALID',
        });
      });
    }
  });
});
