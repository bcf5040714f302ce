import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadStateMap, type CompiledMap } from '@edca/semantic';
import { describe, expect, it } from 'vitest';
import {
  coverageItems,
  parseSuite,
  PolicyError,
  reportDigest,
  runTests,
  testReportSchema,
} from '@edca/policy';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAPS = {
  'retail-banking': 'retail-banking-servicing',
  'insurance-claims': 'home-insurance-claims',
} as const;

function loadMap(name: keyof typeof MAPS): CompiledMap {
  const path = `fixtures/maps/${name}.yaml`;
  const r = loadStateMap(readFileSync(`${ROOT}${path}`, 'utf8'), path);
  if (!r.ok) throw new Error(`fixture map invalid: ${r.diagnostics[0]?.message ?? ''}`);
  return r.value;
}
const suiteText = (name: string): string => readFileSync(`${ROOT}fixtures/maps/${name}.tests.yaml`, 'utf8');

describe('runTests', () => {
  describe('when the fixture suites run against their maps', () => {
    for (const name of Object.keys(MAPS) as (keyof typeof MAPS)[]) {
      it(`passes every case of ${name}.tests.yaml and leaves no part of the map unreached`, async () => {
        const map = loadMap(name);
        const report = await runTests(map, [parseSuite(suiteText(name), `${name}.tests.yaml`)]);
        expect(report.cases.filter((c) => !c.passed)).toEqual([]);
        expect(report.summary.failed).toBe(0);
        expect(report.coverage.unreached).toEqual([]);
        expect(report.coverage.items).toBe(coverageItems(map).length);
        expect(testReportSchema.parse(report)).toEqual(report);
      }, 60_000);
    }
  });

  describe('when the same map and suites run twice', () => {
    it('gives the same report digest (fresh keys, no timings, no absolute paths)', async () => {
      const map = loadMap('insurance-claims');
      const suite = parseSuite(suiteText('insurance-claims'), 'insurance-claims.tests.yaml');
      const a = await runTests(map, [suite]);
      const b = await runTests(map, [suite]);
      expect(reportDigest(a)).toBe(reportDigest(b));
      expect(JSON.stringify(a)).not.toContain(ROOT);
    }, 60_000);
  });

  describe('when a case expects what the kernel does not decide', () => {
    const suite = (expect: string, extra = ''): string => `edca: edca-tests/v1
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
  - name: first
    propose: { intent: freeze_card, params: { reason: misplaced } }
    expect: { verdict: permit }
  - name: second
${extra}    propose: { intent: refund_payment, params: { amount: 20, reason: goodwill } }
    expect: ${expect}
`;

    it('fails that case with expected and actual, at its line and column', async () => {
      const map = loadMap('retail-banking');
      const report = await runTests(map, [
        parseSuite(suite('{ verdict: refuse, reasons: [NOT_ALLOWED] }'), 's.yaml'),
      ]);
      expect(report.summary).toEqual({ cases: 2, passed: 1, failed: 1 });
      expect(report.cases[1]).toMatchObject({
        name: 'second',
        line: 17,
        col: 5,
        passed: false,
        expected: { verdict: 'refuse', reasons: ['NOT_ALLOWED'] },
        actual: { verdict: 'permit', rule: 'intents.refund_payment.allowed_when', reasons: ['ALLOWED'] },
      });
    });

    it('fails on a rule that differs even when the verdict matches', async () => {
      const map = loadMap('retail-banking');
      const report = await runTests(map, [
        parseSuite(suite('{ verdict: permit, rule: intents.refund_payment }'), 's.yaml'),
      ]);
      expect(report.cases[1]!.passed).toBe(false);
    });

    it('decides with the seeded usage: a counter at its max refuses, one below it permits', async () => {
      const map = loadMap('retail-banking');
      const full = await runTests(map, [
        parseSuite(suite('{ verdict: permit }', '    counters: { refund.rate: 3 }\n'), 's.yaml'),
      ]);
      expect(full.cases[1]!.actual).toMatchObject({ verdict: 'refuse', reasons: ['LIMIT_EXCEEDED'] });
      const room = await runTests(map, [
        parseSuite(suite('{ verdict: permit }', '    counters: { refund.rate: 2 }\n'), 's.yaml'),
      ]);
      expect(room.cases[1]!.actual).toMatchObject({ verdict: 'permit', reasons: ['ALLOWED'] });
    });

    it('fails a case whose counters name no limit of the intent (a typo must not pass silently)', async () => {
      const map = loadMap('retail-banking');
      const report = await runTests(map, [
        parseSuite(suite('{ verdict: permit }', '    counters: { refund.rates: 3 }\n'), 's.yaml'),
      ]);
      expect(report.cases[1]!.passed).toBe(false);
      expect(report.cases[1]!.notes[0]).toMatch(/refund\.rates/);
    });

    it('refuses a suite written for another map: SUITE_MAP_MISMATCH', async () => {
      const map = loadMap('insurance-claims');
      const run = runTests(map, [parseSuite(suite('{ verdict: permit }'), 's.yaml')]);
      await expect(run).rejects.toBeInstanceOf(PolicyError);
      await expect(run).rejects.toMatchObject({ code: 'SUITE_MAP_MISMATCH' });
    });
  });
});

describe('runTests when the kernel refuses before the map decides', () => {
  it('reports the kernel refusal and counts nothing of the map as reached', async () => {
    const map = loadMap('retail-banking');
    const suite = parseSuite(
      'edca: edca-tests/v1\nmap: retail-banking-servicing\ncases:\n' +
        '  - { name: unknown, propose: { intent: wire_money }, expect: { verdict: refuse } }\n' +
        '  - { name: no records, propose: { intent: report_card_lost }, expect: { verdict: refuse } }\n',
      's.yaml',
    );
    const report = await runTests(map, [suite]);
    expect(report.summary).toEqual({ cases: 2, passed: 2, failed: 0 });
    expect(report.cases.map((c) => c.actual.rule.startsWith('kernel.'))).toEqual([true, true]);
    expect(report.coverage.reached).toBe(0);
  });
});

describe('runTests on a map the kernel cannot run', () => {
  it('refuses with TEST_KERNEL_FAILED when the kernel refuses to start (an intent without a route)', async () => {
    const text = readFileSync(`${ROOT}fixtures/invalid/valid-base.yaml`, 'utf8');
    // A valid map that declares no routes: no handler could ever run its intents.
    expect(text).not.toMatch(/^routes:/m);
    const r = loadStateMap(text, 'valid-base.yaml');
    if (!r.ok) throw new Error(`map invalid: ${r.diagnostics[0]?.message ?? ''}`);
    const suite = parseSuite(
      `edca: edca-tests/v1\nmap: ${r.value.name}\ncases:\n  - { name: a, propose: { intent: arrange_overdraft }, expect: { verdict: refuse } }\n`,
      's.yaml',
    );
    await expect(runTests(r.value, [suite])).rejects.toMatchObject({ code: 'TEST_KERNEL_FAILED' });
  });
});

describe('parseSuite', () => {
  describe('when the suite is malformed', () => {
    const cases: [string, string, RegExp][] = [
      ['not YAML', 'edca: [\n', /^s\.yaml:\d+:\d+: not YAML/],
      [
        'an unknown key',
        'edca: edca-tests/v1\nmap: m\ncases:\n  - name: a\n    propse: {}\n',
        /^s\.yaml:4:5: /,
      ],
      [
        'an unknown fixture',
        'edca: edca-tests/v1\nmap: m\ncases:\n  - name: a\n    records: nope\n    propose: { intent: x }\n    expect: { verdict: permit }\n',
        /^s\.yaml:5:14: no records fixture 'nope'/,
      ],
      [
        'two cases with one name',
        'edca: edca-tests/v1\nmap: m\ncases:\n  - { name: a, propose: { intent: x }, expect: { verdict: permit } }\n  - { name: a, propose: { intent: x }, expect: { verdict: permit } }\n',
        /^s\.yaml:5:13: a second case named 'a'/,
      ],
      ['no cases', 'edca: edca-tests/v1\nmap: m\ncases: []\n', /^s\.yaml:3:8: cases: /],
    ];
    for (const [what, text, message] of cases) {
      it(`refuses ${what} with SUITE_INVALID at file:line:col`, () => {
        try {
          parseSuite(text, 's.yaml');
          expect.unreachable();
        } catch (err) {
          expect(err).toBeInstanceOf(PolicyError);
          expect((err as PolicyError).code).toBe('SUITE_INVALID');
          expect((err as PolicyError).message).toMatch(message);
        }
      });
    }
  });

  describe('when fixtures are merged', () => {
    it('applies later fields over earlier ones, per source', () => {
      const s = parseSuite(
        `edca: edca-tests/v1
map: m
fixtures:
  records:
    a: { src: { X: 1, Y: 2 }, other: { Z: 3 } }
    b: [a, src: { Y: 5 }]
cases:
  - { name: c, records: [b, { src: { X: 9 } }], propose: { intent: i }, expect: { verdict: permit } }
`,
        's.yaml',
      );
      expect(s.cases[0]!.records).toEqual({ src: { X: 9, Y: 5 }, other: { Z: 3 } });
    });
  });
});
