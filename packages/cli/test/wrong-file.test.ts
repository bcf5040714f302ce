import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '@edca/cli';
import { beforeAll, describe, expect, it } from 'vitest';
import { captureIo } from '../../../test/helpers/cli-io.js';
import { generateJournal, type GeneratedJournal } from '../../../test/helpers/journal-generator.js';
import { toText } from '../../../test/helpers/tamper.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const README = join(root, 'README.md');
const MAP = join(root, 'fixtures/maps/retail-banking.yaml');
const BASE = join(root, 'fixtures/invalid/valid-base.yaml');

let dir: string;
let j: GeneratedJournal;
let journal: string;
let trust: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edca-wrong-file-'));
  j = await generateJournal({ records: 120, checkpointEvery: 50, seed: 7 });
  journal = join(dir, 'journal.jsonl');
  trust = join(dir, 'trust.json');
  writeFileSync(journal, j.text);
  writeFileSync(trust, j.keys.trustText);
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await runCli(argv, io);
  return { code, out: io.out(), err: io.err() };
}

/** A map with `n` unknown top-level keys: `n` diagnostics of the same kind. */
function mapWithErrors(n: number): string {
  const extra = Array.from({ length: n }, (_, i) => `unknown_key_${i}: 1`).join('\n');
  const path = join(dir, `errors-${n}.yaml`);
  writeFileSync(path, `${readFileSync(BASE, 'utf8')}\n${extra}\n`);
  return path;
}

describe('edca validate given a file that is not a state map', () => {
  it('says so in one line with the first reason (NOT_A_STATE_MAP, exit 1) for a README', async () => {
    const r = await run('validate', README);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      `edca: NOT_A_STATE_MAP: ${README}: not a state map: line 3:1: Plain value cannot start with reserved character \` (it does not parse as YAML or JSON)\n`,
    );
  });

  it('recognises a journal and points to edca audit verify', async () => {
    const r = await run('validate', journal);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('NOT_A_STATE_MAP');
    expect(r.err).toContain('it looks like an edca journal (check it with edca audit verify)');
  });

  it('names the missing marker for a mapping without `edca: state-map/v1`, and a list', async () => {
    const other = join(dir, 'other.yaml');
    writeFileSync(other, 'hello: world\nname: x\n');
    const list = join(dir, 'list.json');
    writeFileSync(list, '[1, 2]');
    const wrongKind = join(dir, 'kind.yaml');
    writeFileSync(wrongKind, 'edca: record/v1\n');
    expect((await run('validate', other)).err).toContain('not a state map: no `edca: state-map/v1`');
    expect((await run('validate', list)).err).toContain('the document is a list');
    expect((await run('validate', wrongKind)).err).toContain('`edca` is "record/v1", not "state-map/v1"');
  });

  it('answers one JSON object with --json', async () => {
    const r = await run('validate', '--json', README);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ valid: false, code: 'NOT_A_STATE_MAP' });
  });

  it('still lists the parse errors of a state map with a syntax error', async () => {
    const tabbed = join(dir, 'tabbed.yaml');
    const lines = readFileSync(MAP, 'utf8').split('\n');
    lines[39] = `\t${lines[39]!}`;
    writeFileSync(tabbed, lines.join('\n'));
    const r = await run('validate', tabbed);
    expect(r.code).toBe(1);
    expect(r.out).toContain('tabbed.yaml:40:1: error PARSE_ERROR');
    expect(r.err).toContain('MAP_INVALID');
  });

  it('refuses the same way in every command that loads a map (states)', async () => {
    const data = join(dir, 'data.json');
    writeFileSync(data, '{}');
    const r = await run('states', README, '--data', data);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^edca: NOT_A_STATE_MAP: .*\n$/);
  });
});

describe('edca validate --max-findings', () => {
  it('prints the first 20 diagnostics by default and counts the rest', async () => {
    const path = mapWithErrors(30);
    const r = await run('validate', path);
    expect(r.code).toBe(1);
    const lines = r.out.trim().split('\n');
    expect(lines.filter((l) => l.includes('error SCHEMA_INVALID'))).toHaveLength(20);
    expect(lines.at(-1)).toBe('… and 10 more diagnostic(s) (--max-findings 0 prints every one)');
    expect(r.err).toContain('30 error(s)');
  });

  it('prints n with --max-findings n, every one with 0, and caps --json with the count left out', async () => {
    const path = mapWithErrors(30);
    const three = await run('validate', '--max-findings', '3', path);
    expect(three.out.trim().split('\n')).toHaveLength(4);
    expect(three.out).toContain('… and 27 more diagnostic(s)');
    const all = await run('validate', '--max-findings', '0', path);
    expect(all.out.trim().split('\n')).toHaveLength(30);
    const json = await run('validate', '--json', '--max-findings', '5', path);
    const body = JSON.parse(json.out) as { errors: number; diagnostics: unknown[]; omitted: number };
    expect(body).toMatchObject({ errors: 30, omitted: 25 });
    expect(body.diagnostics).toHaveLength(5);
  });

  it('refuses a value that is not a non-negative integer (exit 2)', async () => {
    for (const bad of ['-1', 'x', '1.5']) {
      const r = await run('validate', '--max-findings', bad, BASE);
      expect(r.code, bad).toBe(2);
      expect(r.err).toContain('--max-findings');
    }
  });
});

describe('edca audit verify given a file that is not a journal', () => {
  it('says so in one line with the first reason (NOT_A_JOURNAL, exit 1) for a README', async () => {
    const r = await run('audit', 'verify', README, '--trust', trust);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      `edca: NOT_A_JOURNAL: ${README}: not an edca journal: no line is an edca record; line 1: it is not JSON\n`,
    );
  });

  it('recognises a state map and points to edca validate, and answers JSON with --json', async () => {
    const r = await run('audit', 'verify', MAP, '--trust', trust);
    expect(r.code).toBe(1);
    expect(r.err).toContain('it looks like a state map (check it with edca validate)');
    const json = await run('audit', 'verify', MAP, '--trust', trust, '--json');
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, code: 'NOT_A_JOURNAL' });
  });

  it('names the missing record members of a JSON file that is not a record', async () => {
    const other = join(dir, 'other.jsonl');
    writeFileSync(other, '{"hello":"world"}\n');
    const r = await run('audit', 'verify', other, '--trust', trust);
    expect(r.err).toContain('line 1: it has no `seq`, `prev`, `type`, `stream`, `at`');
  });

  it('still audits a journal whose first line is damaged (findings, not NOT_A_JOURNAL)', async () => {
    const damaged = join(dir, 'damaged.jsonl');
    writeFileSync(damaged, toText(['not json', ...j.lines.slice(1)]));
    const r = await run('audit', 'verify', damaged, '--trust', trust);
    expect(r.code).toBe(1);
    expect(r.err).toContain('AUDIT_FINDINGS');
    expect(r.out).toContain('LINE_MALFORMED');
  });
});

describe('edca audit verify --max-findings', () => {
  let broken: string;
  let total: number;
  beforeAll(async () => {
    broken = join(dir, 'broken.jsonl');
    writeFileSync(broken, toText(j.lines.map((l, i) => (i >= 10 && i < 50 ? '{"garbage":true}' : l))));
    const json = await run('audit', 'verify', broken, '--trust', trust, '--json', '--max-findings', '0');
    total = (JSON.parse(json.out) as { findings: unknown[] }).findings.length;
  });

  it('lists the first 20 findings by default and counts the rest', async () => {
    expect(total).toBeGreaterThan(40);
    const r = await run('audit', 'verify', broken, '--trust', trust);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${total} FINDING(S)`);
    expect(r.out.split('\n').filter((l) => /^ {2}seq \d+ \(line \d+\)/.test(l))).toHaveLength(20);
    expect(r.out).toContain(`  … and ${total - 20} more finding(s) not listed\n`);
    expect(r.err).toContain(`AUDIT_FINDINGS: ${total} finding(s)`);
  });

  it('caps --json too, with findingsOmitted', async () => {
    const r = await run('audit', 'verify', broken, '--trust', trust, '--json', '--max-findings', '2');
    const report = JSON.parse(r.out) as { findings: unknown[]; findingsOmitted: number };
    expect(report.findings).toHaveLength(2);
    expect(report.findingsOmitted).toBe(total - 2);
  });
});

describe('edca audit verify|prove without a journal', () => {
  it('asks for a journal file or --store (exit 2), and says "not both" only when both are given', async () => {
    for (const argv of [
      ['audit', 'verify', '--trust', 'trust.json'],
      ['audit', 'prove', '--seq', '1'],
    ]) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toBe('edca: USAGE: give a journal file or --store <location>\n');
    }
    const both = await run('audit', 'verify', journal, '--store', 'postgres://x/y', '--trust', trust);
    expect(both.code).toBe(2);
    expect(both.err).toBe('edca: USAGE: give a journal file or --store <location>, not both\n');
  });
});
