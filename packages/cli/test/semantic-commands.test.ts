import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runCli } from '@edca/cli';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const f = (rel: string): string => `${root}fixtures/${rel}`;
const BANK = f('maps/retail-banking.yaml');
const CLAIMS = f('maps/insurance-claims.yaml');

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), isTty: false });
  return { code, out, err };
}

describe('edca validate', () => {
  describe('when the map is valid', () => {
    it('exits 0 and prints the digest', async () => {
      const r = await run('validate', BANK);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(
        /valid \(retail-banking-servicing 2026\.11\.2, 0 warning\(s\)\), digest sha256:[0-9a-f]{64}/,
      );
    });
    it('exits 0 with warnings listed as file:line:col', async () => {
      const r = await run('validate', f('invalid/rule-never-matches.yaml'));
      expect(r.code).toBe(0);
      expect(r.out).toContain(
        'rule-never-matches.yaml:26:9: warning RULE_NEVER_MATCHES facets.limit_band.bands[1]:',
      );
    });
  });

  describe('when public state words of the map spell a private code', () => {
    it('exits 0 with a PRIVATE_TERM_SQUASHED warning naming the words', async () => {
      const sim = `${root}packages/arp/test/fixtures/sim-lines.yaml`;
      const r = await run('validate', sim);
      expect(r.code).toBe(0);
      expect(r.out).toContain('warning PRIVATE_TERM_SQUASHED');
      expect(r.out).toContain('"sim" + "terminated"');
      expect(r.out).toContain('1 warning(s)');
    });
  });

  describe('when the map is invalid', () => {
    it('exits 1 and prints file:line:col, severity, code and path for each error', async () => {
      const r = await run('validate', f('invalid/condition-unknown-facet.yaml'));
      expect(r.code).toBe(1);
      expect(r.out).toContain(
        'condition-unknown-facet.yaml:44:26: error CONDITION_UNKNOWN_FACET intents.arrange_overdraft.allowed_when: unknown facet',
      );
      expect(r.err).toMatch(/^edca: MAP_INVALID: .*1 error\(s\), 0 warning\(s\)\n$/);
      expect(r.err).not.toMatch(/\n\s+at /);
    });
    it('prints one JSON object with --json', async () => {
      const r = await run('validate', '--json', f('invalid/duplicate-name.yaml'));
      expect(r.code).toBe(1);
      const body = JSON.parse(r.out) as {
        valid: boolean;
        errors: number;
        diagnostics: { code: string; line: number }[];
      };
      expect(body).toMatchObject({
        valid: false,
        errors: 1,
        diagnostics: [{ code: 'DUPLICATE_NAME', line: 21, col: 3 }],
      });
    });
  });

  describe('when the file cannot be read', () => {
    it('exits 2 with IO_READ_FAILED', async () => {
      const r = await run('validate', f('maps/no-such-map.yaml'));
      expect(r.code).toBe(2);
      expect(r.err).toContain('IO_READ_FAILED');
    });
  });
});

describe('edca graph', () => {
  it('draws every machine as mermaid by default', async () => {
    const r = await run('graph', BANK);
    expect(r.code).toBe(0);
    expect(r.out.startsWith('stateDiagram-v2\n')).toBe(true);
    expect(r.out).toContain('card__active --> card__frozen : freeze_card');
    expect(r.out).toContain('[*] --> payment_plan__none');
    expect(r.out).toContain('card__blocked_lost --> [*]');
  });
  it('draws DOT with clusters and terminal double circles', async () => {
    const r = await run('graph', CLAIMS, '--format', 'dot');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^digraph "home-insurance-claims" \{/);
    expect(r.out).toContain('claim__approved -> claim__paid [label="issue_payout"];');
    expect(r.out).toContain('claim__closed [label="closed", shape=doublecircle');
  });
  it('draws one machine with --machine and refuses an unknown one (exit 2)', async () => {
    const one = await run('graph', BANK, '--machine', 'card');
    expect(one.out).not.toContain('payment_plan');
    const bad = await run('graph', BANK, '--machine', 'vault');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('MACHINE_UNKNOWN');
  });
  it('refuses an unknown format as a usage error', async () => {
    expect((await run('graph', BANK, '--format', 'svg')).code).toBe(2);
  });
  it('exits 1 on an invalid map', async () => {
    const r = await run('graph', f('invalid/value-not-in-set.yaml'));
    expect(r.code).toBe(1);
    expect(r.err).toContain('VALUE_NOT_IN_SET');
  });
});

describe('edca states', () => {
  it('prints the derived abstract state, its hash and the intents on offer', async () => {
    const r = await run('states', BANK, '--data', f('records/retail-banking/good-standing.json'));
    expect(r.code).toBe(0);
    const body = JSON.parse(r.out) as {
      ok: boolean;
      state: { facets: Record<string, string> };
      stateHash: string;
      intents: { allowed: string[] };
    };
    expect(body.ok).toBe(true);
    expect(body.state.facets).toMatchObject({ kyc: 'verified', payment_band: '100-500' });
    expect(body.stateHash).toMatch(/^sha256:/);
    expect(body.intents.allowed).toContain('refund_payment');
  });
  it('exits 1 with the stable code when derivation fails closed', async () => {
    const r = await run('states', BANK, '--data', f('records/retail-banking/fail-missing-field.json'));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({
      ok: false,
      code: 'SOURCE_FIELD_MISSING',
      path: 'account.DAYS_PAST_DUE',
    });
  });
  it('exits 2 when the data is not JSON or cannot be read', async () => {
    expect((await run('states', BANK, '--data', BANK)).code).toBe(2);
    expect((await run('states', BANK, '--data', f('records/nope.json'))).code).toBe(2);
  });
  it('requires --data', async () => {
    expect((await run('states', BANK)).code).toBe(2);
  });
  it('counts items in a time window as of --now', async () => {
    const data = f('records/insurance-claims/storm-siu.json');
    const at = async (now: string) =>
      (
        JSON.parse((await run('states', CLAIMS, '--data', data, '--now', now)).out) as {
          state: { facets: Record<string, string> };
        }
      ).state.facets.prior_claims;
    // Prior claims on 2025-07-19 (paid) and 2024-09-02 (declined); a withdrawn one does not count.
    expect(await at('2026-12-01T00:00:00Z')).toBe('several');
    expect(await at('2028-07-01T00:00:00Z')).toBe('one');
    expect(await at('2029-12-01T00:00:00Z')).toBe('none');
    expect((await run('states', CLAIMS, '--data', data, '--now', 'tomorrow')).code).toBe(2);
  });
});

describe('edca schema', () => {
  it('prints the JSON Schema of a state map, the one shipped in @edca/semantic', async () => {
    const r = await run('schema', 'state-map');
    expect(r.code).toBe(0);
    const shipped = JSON.parse(
      readFileSync(`${root}packages/semantic/state-map.schema.json`, 'utf8'),
    ) as unknown;
    expect(JSON.parse(r.out)).toEqual(shipped);
    expect(JSON.parse(r.out)).toMatchObject({ $schema: 'https://json-schema.org/draft/2020-12/schema' });
  });
  it('exits 2 for an unknown document format', async () => {
    const r = await run('schema', 'journal-entry');
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown document format 'journal-entry'");
  });
});
