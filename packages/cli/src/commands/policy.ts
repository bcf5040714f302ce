import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { signPolicy } from '@edca/policy';
import { loadPrivateKeyFile, RecordsError, type Signer } from '@edca/records';
import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { loadMapFile } from '../map-file.js';
import { loadTrust } from './audit.js';
import { loadSuites, policyCliError, printReport } from './test.js';

/** Where `edca policy sign` writes when `--out` is not given: `<map stem>.activation.json` beside the map. */
export function defaultActivationPath(mapPath: string): string {
  return join(dirname(mapPath), `${basename(mapPath, extname(mapPath))}.activation.json`);
}

function loadKey(path: string): Signer {
  try {
    return loadPrivateKeyFile(path);
  } catch (err) {
    if (err instanceof RecordsError) throw new CliError(err.code, `${path}: ${err.message}`);
    throw new CliError('KEY_FILE_UNREADABLE', `${path}: ${String(err)}`);
  }
}

interface SignOptions {
  readonly key: string;
  readonly trust: string;
  readonly revision: string;
  readonly tests: string[];
  readonly out?: string;
  readonly json?: boolean;
}

/**
 * `edca policy sign MAP --key FILE --trust FILE --revision N --tests SUITE… [--out FILE]`: runs the
 * suites on the map and, only if every case passes, writes the policy owner's signed activation
 * (default {@link defaultActivationPath}). Exit 0 written, 1 a case failed (TESTS_FAILED, nothing
 * written) or the map is invalid, 2 usage (KEY_NOT_POLICY_OWNER, REVISION_INVALID, SUITE_INVALID,
 * TRUST_INVALID, key or I/O errors).
 */
export function registerPolicy(program: Command, io: CliIo): void {
  const policy = program.command('policy').description("the policy owner's tools");
  policy
    .command('sign')
    .description('run the test suites and sign an activation of the map if every case passes')
    .argument('<map>', 'state map (YAML or JSON)')
    .requiredOption('--key <file>', "the policy owner's private key (PKCS#8 PEM)")
    .requiredOption('--trust <file>', 'trust file holding that key with role policy-owner')
    .requiredOption('--revision <n>', 'revision number, higher than any activated before')
    .requiredOption('--tests <suite...>', 'the suite files that must pass')
    .option('--out <file>', 'where to write the activation (default: <map>.activation.json beside the map)')
    .option('--json', 'print the activation and the report digest as one JSON object')
    .action(async (mapPath: string, opts: SignOptions) => {
      if (!/^[1-9][0-9]{0,15}$/.test(opts.revision) || !Number.isSafeInteger(Number(opts.revision)))
        throw new CliError(
          'REVISION_INVALID',
          `--revision must be a positive integer, got ${JSON.stringify(opts.revision)}`,
        );
      const map = loadMapFile(mapPath, io);
      const signer = loadKey(opts.key);
      const trust = loadTrust(opts.trust);
      let result: Awaited<ReturnType<typeof signPolicy>>;
      let paths: Map<string, string>;
      try {
        const loaded = loadSuites(mapPath, opts.tests);
        paths = loaded.paths;
        result = await signPolicy({
          map,
          suites: loaded.suites,
          signer,
          trust,
          revision: Number(opts.revision),
          at: new Date().toISOString(),
        });
      } catch (err) {
        throw policyCliError(err);
      }
      if (!result.ok) {
        printReport(result.report, paths, io, false);
        throw new CliError(
          'TESTS_FAILED',
          `${result.report.summary.failed} case(s) failed: nothing signed`,
          EXIT.CHECK_FAILED,
        );
      }
      const out = opts.out ?? defaultActivationPath(mapPath);
      const tmp = `${out}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, `${JSON.stringify(result.activation, null, 2)}\n`, { mode: 0o644 });
        renameSync(tmp, out);
      } catch (err) {
        rmSync(tmp, { force: true });
        throw new CliError(
          'IO_WRITE_FAILED',
          `cannot write ${out}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        );
      }
      const s = result.activation.statement;
      if (opts.json === true) io.stdout(`${JSON.stringify({ file: out, activation: result.activation })}\n`);
      else
        io.stdout(
          `${s.map} revision ${s.revision} ${s.mapDigest}\n  tests:      ${s.tests} (${result.report.summary.cases} case(s) passed)\n  signed by:  ${s.owner.kid} (${s.owner.role})\n  activation: ${out}\n`,
        );
    });
}
