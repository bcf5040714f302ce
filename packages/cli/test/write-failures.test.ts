// Every command that writes a file fails at once with exit 2 and IO_WRITE_FAILED when it cannot,
// instead of hanging (`mkdirSync(…, { recursive: true })` spins for ever on `/proc/nope`) or
// printing a stack trace. The cases run in a child process with a deadline, so a command that
// spins fails this test instead of hanging the test run.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '@edca/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureIo } from '../../../test/helpers/cli-io.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const DEADLINE_MS = 60_000;

interface Result {
  readonly args: string[];
  readonly code: number;
  readonly stderr: string;
  readonly ms: number;
}

/**
 * Runs every case in one child (the CLI from source: tsx resolves @edca/* through the root
 * tsconfig paths), killed at the deadline; a case that never returns has no result.
 */
function runCases(cases: readonly (readonly string[])[]): Promise<Result[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'packages/cli/test/write-failures-child.ts', JSON.stringify(cases)],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(
        stdout
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as Result),
      );
    });
  });
}

let dir: string;
let journal: string;
let trust: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edca-write-failures-'));
  const io = captureIo();
  expect(await runCli(['demo', '--out', join(dir, 'demo'), '--clock', 'fixed'], io)).toBe(0);
  journal = join(dir, 'demo', 'journal.jsonl');
  trust = join(dir, 'demo', 'trust.json');
  writeFileSync(join(dir, 'a-file'), 'not a folder\n');
  expect(await runCli(['keygen', '--out', join(dir, 'owner'), '--role', 'policy-owner'], captureIo())).toBe(
    0,
  );
  writeFileSync(
    join(dir, 'retail.tests.yaml'),
    'edca: edca-tests/v1\nmap: retail-banking-servicing\ncases:\n' +
      '  - { name: unknown intent, propose: { intent: wire_money }, expect: { verdict: refuse } }\n',
  );
}, 120_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Case {
  readonly name: string;
  readonly args: () => string[];
}

const unwritable = (): Case[] => [
  { name: 'keygen --out /proc/nope', args: () => ['keygen', '--out', '/proc/nope'] },
  { name: 'keygen --out /proc/nope/deeper/keys', args: () => ['keygen', '--out', '/proc/nope/deeper/keys'] },
  { name: 'keygen --out below a regular file', args: () => ['keygen', '--out', join(dir, 'a-file', 'keys')] },
  { name: 'demo --out /proc/nope', args: () => ['demo', '--out', '/proc/nope'] },
  {
    name: 'demo --keys /proc/nope',
    args: () => ['demo', '--out', join(dir, 'demo-keys'), '--keys', '/proc/nope'],
  },
  {
    name: 'audit verify --html /proc/nope/report.html',
    args: () => ['audit', 'verify', journal, '--trust', trust, '--html', '/proc/nope/report.html'],
  },
  {
    name: 'audit verify --html /dev/full',
    args: () => ['audit', 'verify', journal, '--trust', trust, '--html', '/dev/full'],
  },
  {
    name: 'audit prove --out /proc/nope/proof.json',
    args: () => ['audit', 'prove', journal, '--seq', '1', '--out', '/proc/nope/proof.json'],
  },
  {
    name: 'journal export --out /proc/nope/x.jsonl',
    args: () => ['journal', 'export', '--store', journal, '--out', '/proc/nope/x.jsonl'],
  },
  {
    name: 'policy sign --out /proc/nope/a.json',
    args: () => [
      'policy',
      'sign',
      join(root, 'fixtures/maps/retail-banking.yaml'),
      '--key',
      join(dir, 'owner', 'policy-owner.key.pem'),
      '--trust',
      join(dir, 'owner', 'trust.json'),
      '--revision',
      '1',
      '--tests',
      join(dir, 'retail.tests.yaml'),
      '--out',
      '/proc/nope/a.json',
    ],
  },
  {
    name: 'journal export --out /dev/full',
    args: () => ['journal', 'export', '--store', journal, '--out', '/dev/full'],
  },
];

describe('a command that cannot write its output', () => {
  it(
    'every one exits 2 with IO_WRITE_FAILED, at once, without a stack trace',
    async () => {
      const cases = unwritable();
      const results = await runCases(cases.map((c) => c.args()));
      // A case that spins is killed at the deadline and has no result: name it.
      expect(cases.slice(results.length).map((c) => c.name)).toEqual([]);
      for (const [i, r] of results.entries()) {
        const name = cases[i]!.name;
        expect({ name, code: r.code }).toEqual({ name, code: 2 });
        expect(r.stderr, name).toMatch(/^edca: IO_WRITE_FAILED: /);
        expect(r.stderr, name).not.toMatch(/\n\s+at /);
        expect(r.ms, name).toBeLessThan(5_000);
      }
    },
    DEADLINE_MS + 10_000,
  );

  it('leaves no half-written key behind when keygen cannot write', async () => {
    const io = captureIo();
    expect(await runCli(['keygen', '--out', join(dir, 'a-file', 'keys')], io)).toBe(2);
    expect(existsSync(join(dir, 'a-file', 'keys', 'kernel.key.pem'))).toBe(false);
  });
});
