import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '@edca/cli';
import { reportDigest, testReportSchema } from '@edca/policy';
import { parseTrustFile, verifyActivation } from '@edca/records';
import { loadStateMap } from '@edca/semantic';
import { describe, expect, it } from 'vitest';
import { captureIo } from '../../../test/helpers/cli-io.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAPS = join(ROOT, 'fixtures/maps');

const SUITE = (expectRefund: string): string => `edca: edca-tests/v1
map: retail-banking-servicing
fixtures:
  records:
    good:
      customer: { CUST_ID: C-1, KYC_STATUS_CD: V, VULN_FLAG: false, SEGMENT_CD: RTL }
      account: { ACCT_NO: A-1, ACCT_STATUS_CD: OPN, DAYS_PAST_DUE: 0, FEE_WAIVERS_12M: 0, ARRG_CD: NONE, CLOSED_AT: null, TXNS: [] }
      card: { CARD_TOKEN: tok_1, CARD_STATUS_CD: ACT, PAN_LAST4: '4821' }
      payment: { PMT_ID: P-1, PMT_STATUS_CD: STL, AMT_CENTS: 24999, SETTLED_DAYS_AGO: 9 }
      contact: { ADDR_VERIF_CD: OK, ADDR_LAST_CHG_DAYS: 412 }
      message: { MSG_ID: M-1, MSG_BODY: hello }
defaults: { records: good, principal: { id: agent-7, attributes: { role: agent, strong_auth: true } } }
cases:
  - name: freeze
    propose: { intent: freeze_card, params: { reason: misplaced } }
    expect: { verdict: permit, reasons: [ALLOWED] }
  - name: refund
    propose: { intent: refund_payment, params: { amount: 20, reason: goodwill } }
    expect: ${expectRefund}
`;

/** A folder with a copy of the retail map and, optionally, a suite beside it. */
function workspace(suite?: string): { dir: string; map: string; suite: string } {
  const dir = mkdtempSync(join(tmpdir(), 'edca-policy-'));
  const map = join(dir, 'retail.yaml');
  copyFileSync(join(MAPS, 'retail-banking.yaml'), map);
  const suitePath = join(dir, 'retail.tests.yaml');
  if (suite !== undefined) writeFileSync(suitePath, suite);
  return { dir, map, suite: suitePath };
}

async function ownerKey(dir: string, role = 'policy-owner'): Promise<{ key: string; trust: string }> {
  expect(await runCli(['keygen', '--out', dir, '--role', role], captureIo())).toBe(0);
  return { key: join(dir, `${role}.key.pem`), trust: join(dir, 'trust.json') };
}

describe('edca test', () => {
  describe('when every case passes', () => {
    it('exits 0 for the fixture maps with their suites found beside them, every part of the map reached', async () => {
      for (const name of ['retail-banking', 'insurance-claims']) {
        const io = captureIo();
        expect(await runCli(['test', join(MAPS, `${name}.yaml`), '--coverage'], io)).toBe(0);
        expect(io.out()).toMatch(/ 0 failed\n/);
        expect(io.out()).not.toContain('unreached');
        expect(io.out()).toMatch(/coverage: (\d+) of \1 part\(s\)/);
      }
    }, 60_000);

    it('prints with --json the report whose digest is the same on every run', async () => {
      const w = workspace(SUITE('{ verdict: permit }'));
      const a = captureIo();
      const b = captureIo();
      expect(await runCli(['test', w.map, '--json'], a)).toBe(0);
      expect(await runCli(['test', w.map, w.suite, '--json'], b)).toBe(0);
      const ra = testReportSchema.parse(JSON.parse(a.out()));
      expect(ra.suites.map((s) => s.file)).toEqual(['retail.tests.yaml']);
      expect(reportDigest(ra)).toBe(reportDigest(testReportSchema.parse(JSON.parse(b.out()))));
      expect(a.out()).not.toContain(w.dir);
    });

    it('lists with --coverage what the cases did not reach', async () => {
      const w = workspace(SUITE('{ verdict: permit }'));
      const io = captureIo();
      expect(await runCli(['test', w.map, '--coverage'], io)).toBe(0);
      expect(io.out()).toContain('unreached facet-rule facets.kyc.rules[1]\n');
      expect(io.out()).toContain('unreached allowed_when intents.refund_payment.allowed_when=false\n');
      expect(io.out()).not.toContain('unreached intent intents.freeze_card\n');
    });
  });

  describe('when a case fails', () => {
    it("exits 1 naming the case's file:line:col with expected and actual", async () => {
      const w = workspace(SUITE('{ verdict: refuse, reasons: [NOT_ALLOWED] }'));
      const io = captureIo();
      expect(await runCli(['test', w.map], io)).toBe(1);
      expect(io.out()).toContain(`FAIL ${w.suite}:17:5 refund\n`);
      expect(io.out()).toContain('  expected: refuse (any rule) [NOT_ALLOWED]\n');
      expect(io.out()).toContain('  actual:   permit intents.refund_payment.allowed_when [ALLOWED]\n');
      expect(io.err()).toContain('TESTS_FAILED');
    });
  });

  describe('when it cannot run', () => {
    it('exits 2 with SUITES_NOT_FOUND when no suite is named or beside the map', async () => {
      const w = workspace();
      const io = captureIo();
      expect(await runCli(['test', w.map], io)).toBe(2);
      expect(io.err()).toContain('SUITES_NOT_FOUND');
    });
    it('exits 2 with SUITE_INVALID at file:line:col for a malformed suite', async () => {
      const w = workspace(SUITE('{ verdict: allow }'));
      const io = captureIo();
      expect(await runCli(['test', w.map], io)).toBe(2);
      expect(io.err()).toMatch(/SUITE_INVALID: retail\.tests\.yaml:19:\d+: cases\.1\.expect\.verdict/);
    });
    it('exits 2 with SUITE_MAP_MISMATCH for a suite of another map', async () => {
      const io = captureIo();
      const args = ['test', join(MAPS, 'insurance-claims.yaml'), join(MAPS, 'retail-banking.tests.yaml')];
      expect(await runCli(args, io)).toBe(2);
      expect(io.err()).toContain('SUITE_MAP_MISMATCH');
    });
  });
});

describe('edca policy sign', () => {
  describe('when every case passes and the key is a policy owner', () => {
    it('writes <map>.activation.json binding the map digest, revision and the digest of the passing report', async () => {
      const w = workspace(SUITE('{ verdict: permit }'));
      const { key, trust } = await ownerKey(w.dir);
      const io = captureIo();
      const code = await runCli(
        ['policy', 'sign', w.map, '--key', key, '--trust', trust, '--revision', '7', '--tests', w.suite],
        io,
      );
      expect(code).toBe(0);
      const out = join(w.dir, 'retail.activation.json');
      const activation = JSON.parse(readFileSync(out, 'utf8')) as unknown;
      const map = loadStateMap(readFileSync(w.map, 'utf8'), w.map);
      if (!map.ok) throw new Error('map');
      const check = verifyActivation(activation, parseTrustFile(readFileSync(trust, 'utf8')), {
        map: map.value.name,
        mapDigest: map.value.digest,
      });
      expect(check.ok).toBe(true);
      if (!check.ok) return;
      expect(check.statement.revision).toBe(7);
      // The activation binds the very report `edca test --json` prints for these suites.
      const json = captureIo();
      expect(await runCli(['test', w.map, w.suite, '--json'], json)).toBe(0);
      expect(check.statement.tests).toBe(reportDigest(testReportSchema.parse(JSON.parse(json.out()))));
    });
  });

  describe('when it must refuse', () => {
    it('signs nothing when a case fails: exit 1, TESTS_FAILED', async () => {
      const w = workspace(SUITE('{ verdict: escalate }'));
      const { key, trust } = await ownerKey(w.dir);
      const io = captureIo();
      const out = join(w.dir, 'out.json');
      const args = [
        'policy',
        'sign',
        w.map,
        '--key',
        key,
        '--trust',
        trust,
        '--revision',
        '1',
        '--tests',
        w.suite,
      ];
      expect(await runCli([...args, '--out', out], io)).toBe(1);
      expect(io.err()).toContain('TESTS_FAILED');
      expect(io.out()).toContain('FAIL ');
      expect(existsSync(out)).toBe(false);
    });
    it('refuses a key whose role is not policy-owner: exit 2, KEY_NOT_POLICY_OWNER, nothing written', async () => {
      const w = workspace(SUITE('{ verdict: permit }'));
      const { key, trust } = await ownerKey(w.dir, 'refund-approver');
      const io = captureIo();
      const args = [
        'policy',
        'sign',
        w.map,
        '--key',
        key,
        '--trust',
        trust,
        '--revision',
        '1',
        '--tests',
        w.suite,
      ];
      expect(await runCli(args, io)).toBe(2);
      expect(io.err()).toContain('KEY_NOT_POLICY_OWNER');
      expect(existsSync(join(w.dir, 'retail.activation.json'))).toBe(false);
    });
    for (const revision of ['0', '-3', '1.5', 'two', '99999999999999999']) {
      it(`refuses --revision ${revision}: exit 2, REVISION_INVALID`, async () => {
        const w = workspace(SUITE('{ verdict: permit }'));
        const io = captureIo();
        const args = [
          'policy',
          'sign',
          w.map,
          '--key',
          'k',
          '--trust',
          't',
          '--revision',
          revision,
          '--tests',
          w.suite,
        ];
        expect(await runCli(args, io)).toBe(2);
        expect(io.err()).toContain('REVISION_INVALID');
      });
    }
    it('requires --tests: exit 2', async () => {
      const w = workspace(SUITE('{ verdict: permit }'));
      const { key, trust } = await ownerKey(w.dir);
      const io = captureIo();
      expect(
        await runCli(['policy', 'sign', w.map, '--key', key, '--trust', trust, '--revision', '1'], io),
      ).toBe(2);
      expect(existsSync(join(w.dir, 'retail.activation.json'))).toBe(false);
    });
  });
});
