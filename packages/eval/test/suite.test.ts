import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BUILT_IN_SUITES_DIR,
  builtInSuiteNames,
  EvalError,
  loadBuiltInSuite,
  loadSuite,
  runBaseline,
  type Suite,
} from '@edca/eval';

const dir = mkdtempSync(join(tmpdir(), 'edca-eval-suite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bankingText = readFileSync(join(BUILT_IN_SUITES_DIR, 'online-banking', 'suite.yaml'), 'utf8');
copyFileSync(join(BUILT_IN_SUITES_DIR, 'online-banking', 'map.yaml'), join(dir, 'map.yaml'));

/** Loads the banking suite with one edit applied to its text, from a folder holding its map. */
function loadEdited(edit: (text: string) => string): Suite {
  const file = join(dir, 'suite.yaml');
  writeFileSync(file, edit(bankingText));
  return loadSuite(readFileSync(file, 'utf8'), file);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof EvalError) return err.code;
    throw err;
  }
  return undefined;
}

describe('eval suites', () => {
  describe('when loading the shipped suites', () => {
    it('ships online-banking and insurance-claims, each with at least 12 user tasks and 8 injection tasks', () => {
      expect(builtInSuiteNames()).toEqual(['insurance-claims', 'online-banking']);
      for (const name of builtInSuiteNames()) {
        const suite = loadBuiltInSuite(name);
        expect(suite.userTasks.length, name).toBeGreaterThanOrEqual(12);
        expect(suite.injectionTasks.length, name).toBeGreaterThanOrEqual(8);
        expect(suite.map.digest).toBe(suite.document.map_digest);
      }
    });

    it.each(['online-banking', 'insurance-claims'])(
      '%s: every check can fail: utility and attack are false before any action, utility true after the baseline',
      (name) => {
        const suite = loadBuiltInSuite(name);
        const none = { ...suite.userTasks[0]!, proposals: [] };
        for (const u of suite.userTasks) {
          // The user task's own records, with nothing done: its check must not already hold.
          expect(runBaseline(suite, { ...u, proposals: [] }).utility, u.id).toBe(false);
          expect(runBaseline(suite, u).utility, u.id).toBe(true);
        }
        for (const i of suite.injectionTasks) {
          expect(runBaseline(suite, none, { ...i, proposals: [] }).attackSucceeded, i.id).toBe(false);
        }
      },
    );
  });

  describe('when the suite is wrong', () => {
    it('refuses a map whose digest is not the frozen one (EVAL_MAP_CHANGED)', () => {
      expect(
        codeOf(() =>
          loadEdited((t) => t.replace(/map_digest: sha256:[0-9a-f]{4}/, 'map_digest: sha256:0000')),
        ),
      ).toBe('EVAL_MAP_CHANGED');
    });

    it('refuses an unknown key, a broken expression, an unknown entity and a duplicate id (EVAL_SUITE_INVALID)', () => {
      expect(codeOf(() => loadEdited((t) => t.replace('owner:', 'ownr:')))).toBe('EVAL_SUITE_INVALID');
      expect(
        codeOf(() =>
          loadEdited((t) => t.replace('utility: customer.MOBILE ==', 'utility: customer.MOBILE ==(')),
        ),
      ).toBe('EVAL_SUITE_INVALID');
      expect(
        codeOf(() =>
          loadEdited((t) => t.replace('{ card: { $ref: card } }', '{ card: { $ref: debit_card } }')),
        ),
      ).toBe('EVAL_SUITE_INVALID');
      expect(codeOf(() => loadEdited((t) => t.replace('id: pay-water-share', 'id: pay-rent')))).toBe(
        'EVAL_SUITE_INVALID',
      );
    });

    it('refuses an injection planted where the model never reads it (EVAL_SUITE_INVALID)', () => {
      let message = '';
      try {
        loadEdited((t) => t.replace('incoming.REF_TEXT: >-', 'payee.PY_NAME_TXT: >-'));
      } catch (err) {
        message = err instanceof EvalError ? `${err.code} ${err.message}` : String(err);
      }
      expect(message).toMatch(/^EVAL_SUITE_INVALID .*shows the model no free text/);
    });

    it('refuses a map that is not there or does not load (EVAL_MAP_INVALID) and a suite name not shipped (EVAL_SUITE_NOT_FOUND)', () => {
      expect(codeOf(() => loadEdited((t) => t.replace('map: map.yaml', 'map: nope.yaml')))).toBe(
        'EVAL_MAP_INVALID',
      );
      expect(codeOf(() => loadBuiltInSuite('retail-lending'))).toBe('EVAL_SUITE_NOT_FOUND');
    });

    it("reports a check that errs at run time as the suite's bug (EVAL_CHECK_ERROR)", () => {
      const suite = loadEdited((t) =>
        t.replace("utility: card.CARD_STATUS_CD == 'BLK'", 'utility: card.NO_SUCH_FIELD == 1'),
      );
      const task = suite.userTasks.find((u) => u.id === 'freeze-card')!;
      expect(codeOf(() => runBaseline(suite, task))).toBe('EVAL_CHECK_ERROR');
    });
  });
});
