import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '@edca/cli';
import { beforeAll, describe, expect, it } from 'vitest';
import { captureIo } from '../../../test/helpers/cli-io.js';
import { generateJournal, type GeneratedJournal } from '../../../test/helpers/journal-generator.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const MAP = join(root, 'fixtures/maps/retail-banking.yaml');
const GOOD = join(root, 'fixtures/records/retail-banking/good-standing.json');

let dir: string;
let j: GeneratedJournal;
let journal: string;
let trust: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edca-friction-'));
  j = await generateJournal({ records: 130, checkpointEvery: 40, seed: 3 });
  journal = join(dir, 'journal.jsonl');
  trust = join(dir, 'trust.json');
  writeFileSync(journal, j.text);
  writeFileSync(trust, j.keys.trustText);
});

async function run(argv: string[], io = captureIo()): Promise<{ code: number; out: string; err: string }> {
  const code = await runCli(argv, io);
  return { code, out: io.out(), err: io.err() };
}

describe('edca view', () => {
  it('indents the view on a terminal and prints the canonical bytes when piped', async () => {
    const piped = await run(['view', MAP, '--data', GOOD]);
    expect(piped.code).toBe(0);
    expect(piped.out.trim().split('\n')).toHaveLength(1);
    const io = captureIo();
    const tty = await run(['view', MAP, '--data', GOOD], Object.assign(io, { stdoutIsTty: true }));
    expect(tty.code).toBe(0);
    expect(tty.out).toMatch(/^\{\n {2}"/);
    expect(JSON.stringify(JSON.parse(tty.out))).toBe(piped.out.trim());
  });

  it('names the field that failed when the state cannot be derived (STATE_UNDERIVABLE), as states does', async () => {
    const data = join(dir, 'no-cust-id.json');
    const records = JSON.parse(readFileSync(GOOD, 'utf8')) as Record<string, Record<string, unknown>>;
    delete records['customer']!['CUST_ID'];
    writeFileSync(data, JSON.stringify(records));
    const r = await run(['view', MAP, '--data', data]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('STATE_UNDERIVABLE');
    expect(r.err).toContain('SOURCE_FIELD_MISSING at customer.CUST_ID');
    expect(JSON.parse(r.out)).toMatchObject({
      code: 'STATE_UNDERIVABLE',
      derive: { code: 'SOURCE_FIELD_MISSING', path: 'customer.CUST_ID' },
    });
  });
});

describe('edca intake', () => {
  it('documents the shapes of each --format in --help', async () => {
    const r = await run(['intake', '--help']);
    expect(r.code).toBe(0);
    for (const needle of ['json ', 'openai ', 'anthropic ', 'mcp ', 'bare tool call', 'tool_use'])
      expect(r.out).toContain(needle);
  });

  it('takes a bare OpenAI tool call and names the offending keys of a SCHEMA_VIOLATION', async () => {
    const file = join(dir, 'bare-openai.json');
    const args = JSON.stringify({ card: 'ref_x', sql: 'DROP TABLE cards' });
    writeFileSync(
      file,
      JSON.stringify({ id: 'call_1', type: 'function', function: { name: 'freeze_card', arguments: args } }),
    );
    const r = await run(['intake', MAP, file, '--format', 'openai']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ code: 'SCHEMA_VIOLATION' });
    expect(r.err).toMatch(
      /^edca: SCHEMA_VIOLATION: params do not fit intent freeze_card: .*\/sql unrecognized_keys/,
    );
    expect(r.err).not.toContain('DROP TABLE');
  });
});

describe('edca audit prove --seq of the last checkpoint', () => {
  it('writes a proof of the checkpoint itself that check-proof accepts', async () => {
    // A journal that goes on after its last checkpoint, as a live one does.
    const last = j.seqs.checkpoints.at(-2)!;
    const cut = join(dir, 'cut.jsonl');
    writeFileSync(cut, j.lines.slice(0, last + 3).join('\n') + '\n');
    const proof = join(dir, 'last-checkpoint.proof.json');
    expect((await run(['audit', 'prove', cut, '--seq', String(last), '--out', proof])).code).toBe(0);
    const r = await run(['audit', 'check-proof', proof, '--trust', trust]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`proof VALID: record ${last} (checkpoint`);
    expect(r.out).toContain(`signs the ${last - 1} records before it`);
    const after = await run(['audit', 'prove', cut, '--seq', String(last + 1)]);
    expect(after.code).toBe(1);
    expect(after.err).toContain('PROOF_UNAVAILABLE');
  });
});

describe('parse errors of a trust file or a proof', () => {
  it('give line:col, not an offset', async () => {
    const badTrust = join(dir, 'bad-trust.json');
    writeFileSync(badTrust, '{\n  "version": 1,\n  "keys": [\n    {"kid": "x",}\n  ]\n}\n');
    const t = await run(['audit', 'verify', journal, '--trust', badTrust]);
    expect(t.code).toBe(2);
    expect(t.err).toContain('TRUST_INVALID');
    expect(t.err).toContain('expected a string key at line 4:17');
    expect(t.err).not.toContain('offset');
    const badProof = join(dir, 'bad-proof.json');
    writeFileSync(badProof, '{\n "format": "edca-inclusion-proof-v1",\n "record": x\n}\n');
    const p = await run(['audit', 'check-proof', badProof, '--trust', trust]);
    expect(p.code).toBe(1);
    expect(p.err).toContain('unexpected character at line 3:12');
    expect(p.err).not.toContain('offset');
  });
});
