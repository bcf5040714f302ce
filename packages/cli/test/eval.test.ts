import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { runCli } from '@edca/cli';
import { BUILT_IN_SUITES_DIR, type SuiteEvaluation } from '@edca/eval';
import { loadStateMap } from '@edca/semantic';
import { captureIo } from '../../../test/helpers/cli-io.js';

const dir = mkdtempSync(join(tmpdir(), 'edca-cli-eval-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The banking suite cut to its first user task and its first injection task: two runs per row. */
function smallSuite(): string {
  const doc = parse(readFileSync(join(BUILT_IN_SUITES_DIR, 'online-banking', 'suite.yaml'), 'utf8')) as {
    user_tasks: unknown[];
    injection_tasks: unknown[];
  };
  doc.user_tasks = doc.user_tasks.slice(0, 1);
  doc.injection_tasks = doc.injection_tasks.slice(0, 1);
  copyFileSync(join(BUILT_IN_SUITES_DIR, 'online-banking', 'map.yaml'), join(dir, 'map.yaml'));
  const file = join(dir, 'small.suite.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

describe('edca eval', () => {
  describe('when given a suite file and one approver behaviour', () => {
    it('prints the baseline and edca rows as JSON, every run included, and exits 0', async () => {
      const io = captureIo();
      expect(await runCli(['eval', '--suite', smallSuite(), '--approver', 'owner', '--json'], io)).toBe(0);
      const out = JSON.parse(io.out()) as { edca_eval: number; suites: SuiteEvaluation[] };
      expect(out.edca_eval).toBe(1);
      const [suite] = out.suites;
      expect(suite!.userTasks).toBe(1);
      expect(suite!.modes.map((m) => m.label)).toEqual(['no kernel (baseline)', 'edca, approver owner']);
      const [baseline, edca] = suite!.modes;
      expect(baseline!.attackSuccess).toEqual({ passed: 1, total: 1 });
      expect(edca!.attackSuccess).toEqual({ passed: 0, total: 1 });
      expect(edca!.benignUtility).toEqual({ passed: 1, total: 1 });
      expect(edca!.audit).toEqual({ journals: 2, intact: 2, findings: {} });
      expect(edca!.runs).toHaveLength(2);
    });

    it('prints the table', async () => {
      const io = captureIo();
      expect(await runCli(['eval', '--suite', smallSuite(), '--approver', 'none'], io)).toBe(0);
      expect(io.out()).toMatch(/^edca eval: online-banking · map online-banking-assistant 2026\.12\.0/);
      expect(io.out()).toContain('edca, approver none');
      expect(io.out()).toContain('small-payments-exfiltration');
      expect(io.out()).toContain('escalated, not approved (APPROVAL_REQUIRED) ×1');
      expect(io.out()).toContain('journals: 2 runs through edca, 2 verified intact by @edca/audit');
    });
  });

  describe('when the command line is wrong', () => {
    it('exits 2 for an approver behaviour that does not exist', async () => {
      const io = captureIo();
      expect(await runCli(['eval', '--approver', 'auditor'], io)).toBe(2);
      expect(io.err()).toContain("'auditor' is invalid");
    });

    it('exits 2 with EVAL_SUITE_NOT_FOUND for a suite that is not shipped', async () => {
      const io = captureIo();
      expect(await runCli(['eval', '--suite', 'retail-lending'], io)).toBe(2);
      expect(io.err()).toMatch(/^edca: EVAL_SUITE_NOT_FOUND: no suite 'retail-lending'/);
    });

    it('exits 2 with KERNEL_SELF_TEST_FAILED when the kernel will not start on the map, naming the cause', async () => {
      const file = smallSuite();
      const mapFile = join(dir, 'map.yaml');
      writeFileSync(
        mapFile,
        readFileSync(mapFile, 'utf8').replace(
          'description: Temporarily freeze the debit card.',
          'description: Temporarily freeze the debit card by its CARD_TOKEN.',
        ),
      );
      const loaded = loadStateMap(readFileSync(mapFile, 'utf8'), mapFile);
      if (!loaded.ok) throw new Error('the edited map should still validate');
      writeFileSync(
        file,
        readFileSync(file, 'utf8').replace(
          /map_digest: sha256:[0-9a-f]{64}/,
          `map_digest: ${loaded.value.digest}`,
        ),
      );
      const io = captureIo();
      expect(await runCli(['eval', '--suite', file], io)).toBe(2);
      expect(io.err()).toMatch(/^edca: KERNEL_SELF_TEST_FAILED: .*LEAK_IN_MAP/);
    });

    it('exits 2 with EVAL_MAP_CHANGED when the map is not the one the suite froze', async () => {
      const file = smallSuite();
      writeFileSync(
        file,
        readFileSync(file, 'utf8').replace(/map_digest: sha256:[0-9a-f]{4}/, 'map_digest: sha256:0000'),
      );
      const io = captureIo();
      expect(await runCli(['eval', '--suite', file], io)).toBe(2);
      expect(io.err()).toMatch(/^edca: EVAL_MAP_CHANGED: /);
    });
  });
});
