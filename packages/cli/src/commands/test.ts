import { readdirSync } from 'node:fs';
import { basename, dirname, extname, join, relative, sep } from 'node:path';
import { parseSuite, PolicyError, runTests, type TestReport, type TestSuite } from '@edca/policy';
import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { readTextInput, type CliIo } from '../io.js';
import { loadMapFile } from '../map-file.js';

/**
 * The suites beside a map when none are named: `<stem>.tests.yaml` and `<stem>.<anything>.tests.yaml`
 * in the map's folder (`<stem>` is the map's file name without `.yaml`/`.yml`/`.json`), sorted.
 */
export function defaultSuitePaths(mapPath: string): string[] {
  const dir = dirname(mapPath);
  const stem = basename(mapPath, extname(mapPath));
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new CliError(
      'IO_READ_FAILED',
      `cannot list ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  return names
    .filter((n) => n === `${stem}.tests.yaml` || (n.startsWith(`${stem}.`) && n.endsWith('.tests.yaml')))
    .sort()
    .map((n) => join(dir, n));
}

/** Reads the suites (named, or found beside the map) for `edca test` and `edca policy sign`. */
export function loadSuites(
  mapPath: string,
  given: readonly string[],
): { suites: TestSuite[]; paths: Map<string, string> } {
  const files = given.length > 0 ? [...given] : defaultSuitePaths(mapPath);
  if (files.length === 0)
    throw new CliError(
      'SUITES_NOT_FOUND',
      `no test suite beside ${mapPath} (expected ${basename(mapPath, extname(mapPath))}.tests.yaml); name one`,
    );
  const paths = new Map<string, string>();
  const suites = files.map((file) => {
    // Reports name a suite relative to the map's folder: the same on every machine.
    const shown = relative(dirname(mapPath), file).split(sep).join('/');
    paths.set(shown, file);
    return parseSuite(readTextInput(file), shown);
  });
  return { suites, paths };
}

/** Turns a PolicyError into the CLI's error (usage: exit 2). */
export function policyCliError(err: unknown): unknown {
  if (err instanceof PolicyError) return new CliError(err.code, err.message);
  return err;
}

function outcome(o: {
  verdict: string;
  rule?: string | undefined;
  reasons?: readonly string[] | undefined;
}): string {
  return [
    o.verdict,
    o.rule ?? '(any rule)',
    o.reasons === undefined ? '(any reasons)' : `[${o.reasons.join(', ')}]`,
  ].join(' ');
}

/** Prints a report for people: each failing case with expected and actual, then the totals. */
export function printReport(
  report: TestReport,
  paths: ReadonlyMap<string, string>,
  io: CliIo,
  coverage: boolean,
): void {
  for (const c of report.cases) {
    if (c.passed) continue;
    io.stdout(`FAIL ${paths.get(c.suite) ?? c.suite}:${c.line}:${c.col} ${c.name}\n`);
    io.stdout(`  expected: ${outcome(c.expected)}\n`);
    io.stdout(`  actual:   ${outcome(c.actual)}\n`);
    for (const n of c.notes) io.stdout(`  note:     ${n}\n`);
  }
  const { cases, passed, failed } = report.summary;
  io.stdout(
    `${report.map.name} ${report.map.digest}: ${cases} case(s), ${passed} passed, ${failed} failed\n`,
  );
  const cov = report.coverage;
  io.stdout(`coverage: ${cov.reached} of ${cov.items} part(s) of the map reached\n`);
  if (coverage) for (const u of cov.unreached) io.stdout(`  unreached ${u.kind} ${u.id}\n`);
}

/**
 * `edca test MAP [SUITE…] [--json] [--coverage]`: decides every case of the suites (default: those
 * beside the map, {@link defaultSuitePaths}) through the real kernel. Exit 0 every case passed,
 * 1 a case failed (or the map is invalid), 2 usage (SUITES_NOT_FOUND, SUITE_INVALID,
 * SUITE_MAP_MISMATCH, IO_READ_FAILED).
 */
export function registerTest(program: Command, io: CliIo): void {
  program
    .command('test')
    .description('decide the expected-decision suites of a state map through the kernel and compare')
    .argument('<map>', 'state map (YAML or JSON)')
    .argument('[suites...]', 'suite files (default: <map>.tests.yaml and <map>.*.tests.yaml beside the map)')
    .option('--json', 'print the report as one JSON object')
    .option(
      '--coverage',
      'list every facet rule, band, machine rule, transition, intent and branch no case reached',
    )
    .action(async (mapPath: string, suitePaths: string[], opts: { json?: boolean; coverage?: boolean }) => {
      const map = loadMapFile(mapPath, io);
      let report: TestReport;
      let paths: Map<string, string>;
      try {
        const loaded = loadSuites(mapPath, suitePaths);
        paths = loaded.paths;
        report = await runTests(map, loaded.suites);
      } catch (err) {
        throw policyCliError(err);
      }
      if (opts.json === true) io.stdout(`${JSON.stringify(report)}\n`);
      else printReport(report, paths, io, opts.coverage === true);
      if (report.summary.failed > 0)
        throw new CliError(
          'TESTS_FAILED',
          `${report.summary.failed} of ${report.summary.cases} case(s) failed`,
          EXIT.CHECK_FAILED,
        );
    });
}
