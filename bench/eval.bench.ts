/**
 * `edca eval` wall time (issue 21, item 5): a whole evaluation of each shipped suite (every user
 * task and every user × injection pair, with no kernel and through edca under both approver
 * behaviours, each run with its own kernel and file journal, every journal verified), and one run
 * of each kind, to see where the time goes.
 *
 *   pnpm bench eval            # a table
 *   pnpm bench eval --json     # one JSON object
 */
import { randomBytes } from 'node:crypto';
import {
  builtInSuiteNames,
  createRunDirectory,
  evaluateSuite,
  loadBuiltInSuite,
  removeRunDirectory,
  runBaseline,
  runThroughKernel,
  type RunKeys,
} from '@edca/eval';
import { createSigner, generateKeyPair, trustedKeyFor } from '@edca/records';
import { isMain, report, runCases, type BenchCase } from './harness.js';

/** Runs the suite and prints the report. */
export async function runEvalBench(): Promise<void> {
  const banking = loadBuiltInSuite('online-banking');
  const kernel = createSigner(generateKeyPair().privateKeyPem);
  const owner = createSigner(generateKeyPair().privateKeyPem);
  const keys: RunKeys = {
    kernel,
    owner,
    refKey: randomBytes(32),
    trust: {
      version: 1,
      keys: [
        trustedKeyFor(kernel.publicKey, 'kernel', '2026-01-01T00:00:00Z'),
        trustedKeyFor(owner.publicKey, banking.document.owner.role, '2026-01-01T00:00:00Z'),
      ],
    },
  };
  const user = banking.userTasks[0]!;
  const injection = banking.injectionTasks[0]!;
  const dir = createRunDirectory();
  let runNo = 0;
  const runs: Record<string, number> = {};
  const cases: BenchCase[] = builtInSuiteNames().map((name) => {
    const suite = loadBuiltInSuite(name);
    runs[name] = suite.userTasks.length * (1 + suite.injectionTasks.length) * 3;
    return {
      name: `${name}: whole evaluation (${runs[name]} runs: baseline, approver none, approver owner)`,
      fn: () => evaluateSuite(suite),
      time: 0,
      iterations: 3,
      warmupTime: 0,
      warmupIterations: 1,
    };
  });
  cases.push(
    {
      name: 'one run through edca (kernel, file journal, session, owner approvals, audit)',
      fn: () => runThroughKernel(banking, keys, 'owner', dir, runNo++, user, injection),
      time: 2000,
      iterations: 20,
    },
    {
      name: 'one run with no kernel (handlers called directly)',
      fn: () => runBaseline(banking, user, injection),
    },
  );
  try {
    const rows = await runCases('eval', cases);
    report('eval', rows, { runsPerEvaluation: runs });
  } finally {
    removeRunDirectory(dir);
  }
}

if (isMain(import.meta.url)) await runEvalBench();
