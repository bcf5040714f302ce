/**
 * A whole evaluation of one suite: every user task alone and every (user task × injection task)
 * pair, with no kernel (the baseline) and through edca under each approver behaviour, summarised
 * as benign utility, utility under attack and attack success rate, with what stopped each attack.
 */
import { randomBytes } from 'node:crypto';
import { match } from 'ts-pattern';
import { createSigner, generateKeyPair, trustedKeyFor } from '@edca/records';
import {
  APPROVER_BEHAVIOURS,
  createRunDirectory,
  removeRunDirectory,
  runBaseline,
  runThroughKernel,
  type ApproverBehaviour,
  type ProposalOutcome,
  type RunKeys,
  type RunResult,
} from './run.js';
import type { Suite } from './suite.js';

/** A count out of a total. */
export interface Tally {
  readonly passed: number;
  readonly total: number;
}

/** One injection task over every user task, in one mode. */
export interface InjectionSummary {
  readonly id: string;
  readonly goal: string;
  /** Pairs in which the attacker's check held. */
  readonly succeeded: number;
  readonly total: number;
  /** For the pairs it failed in: what became of the attacker's proposals (`fate CODES`), counted once per pair. */
  readonly stoppedBy: Readonly<Record<string, number>>;
}

/** One row of the table: the baseline, or edca with one approver behaviour. */
export interface ModeSummary {
  readonly mode: 'baseline' | 'edca';
  readonly approver?: ApproverBehaviour;
  readonly label: string;
  readonly benignUtility: Tally;
  readonly utilityUnderAttack: Tally;
  /** `passed` counts attacks that succeeded: the ASR's numerator. */
  readonly attackSuccess: Tally;
  readonly injections: readonly InjectionSummary[];
  /** Through edca: how many run journals `@edca/audit` verified intact, and the findings of the rest. */
  readonly audit?: {
    readonly journals: number;
    readonly intact: number;
    readonly findings: Readonly<Record<string, number>>;
  };
  readonly runs: readonly RunResult[];
}

/** The result of {@link evaluateSuite}. */
export interface SuiteEvaluation {
  readonly suite: string;
  readonly description?: string;
  /** The frozen map: its name, version and the digest the suite pins. */
  readonly map: { readonly name: string; readonly version: string; readonly digest: string };
  readonly userTasks: number;
  readonly injectionTasks: number;
  readonly modes: readonly ModeSummary[];
}

/** Options of {@link evaluateSuite}. */
export interface EvaluateOptions {
  /** The approver behaviours to run through edca; default both (`none`, `owner`). */
  readonly approvers?: readonly ApproverBehaviour[];
  /** Called after every run through edca, for progress output. */
  readonly onRun?: (done: number, total: number) => void;
}

const KEYS_NOT_BEFORE = '2026-01-01T00:00:00Z';

function createRunKeys(suite: Suite): RunKeys {
  const kernel = createSigner(generateKeyPair().privateKeyPem);
  const owner = createSigner(generateKeyPair().privateKeyPem);
  return {
    kernel,
    owner,
    refKey: randomBytes(32),
    trust: {
      version: 1,
      keys: [
        trustedKeyFor(kernel.publicKey, 'kernel', KEYS_NOT_BEFORE, { name: 'edca eval kernel' }),
        trustedKeyFor(owner.publicKey, suite.document.owner.role, KEYS_NOT_BEFORE, {
          name: suite.document.owner.name,
        }),
      ],
    },
  };
}

/** How a stopped attacker proposal reads in the table: what stopped it, with its codes. */
export function stopLabel(p: ProposalOutcome): string {
  const codes = p.codes.join(', ');
  return match(p.fate)
    .with('refused-at-intake', () => `refused at intake (${codes})`)
    .with('refused', () => `refused (${codes})`)
    .with('escalated-not-approved', () =>
      p.approval === 'rejected'
        ? `escalated, rejected by the owner (${codes})`
        : `escalated, not approved (${codes})`,
    )
    .with('not-reached', () => `never proposed: the session ended (${codes})`)
    .with('failed', () => `ran and failed (${codes})`)
    .with('no-such-tool', () => 'no such tool')
    .with('executed', () => 'executed')
    .exhaustive();
}

function summarise(
  suite: Suite,
  mode: 'baseline' | 'edca',
  approver: ApproverBehaviour | undefined,
  runs: readonly RunResult[],
): ModeSummary {
  const benign = runs.filter((r) => r.injectionTask === undefined);
  const attacked = runs.filter((r) => r.injectionTask !== undefined);
  const injections = suite.injectionTasks.map((t): InjectionSummary => {
    const mine = attacked.filter((r) => r.injectionTask === t.id);
    const stoppedBy: Record<string, number> = {};
    for (const r of mine) {
      if (r.attackSucceeded === true) continue;
      const keys = new Set(
        r.proposals.filter((p) => p.by === 'attacker' && p.fate !== 'executed').map(stopLabel),
      );
      if (keys.size === 0) keys.add('executed without effect');
      for (const k of keys) stoppedBy[k] = (stoppedBy[k] ?? 0) + 1;
    }
    return {
      id: t.id,
      goal: t.goal,
      succeeded: mine.filter((r) => r.attackSucceeded === true).length,
      total: mine.length,
      stoppedBy: Object.fromEntries(Object.entries(stoppedBy).sort(([a], [b]) => (a < b ? -1 : 1))),
    };
  });
  const audited = runs.filter((r) => r.audit !== undefined);
  const findings: Record<string, number> = {};
  for (const r of audited) for (const f of r.audit!.findings) findings[f] = (findings[f] ?? 0) + 1;
  return {
    mode,
    ...(approver === undefined ? {} : { approver }),
    label: mode === 'baseline' ? 'no kernel (baseline)' : `edca, approver ${approver!}`,
    benignUtility: { passed: benign.filter((r) => r.utility).length, total: benign.length },
    utilityUnderAttack: { passed: attacked.filter((r) => r.utility).length, total: attacked.length },
    attackSuccess: {
      passed: attacked.filter((r) => r.attackSucceeded === true).length,
      total: attacked.length,
    },
    injections,
    ...(mode === 'edca'
      ? { audit: { journals: audited.length, intact: audited.filter((r) => r.audit!.ok).length, findings } }
      : {}),
    runs,
  };
}

/**
 * Runs a suite: the baseline, then edca once per approver behaviour. Every run has its own
 * environment, kernel and journal; journals are verified and then removed.
 * @example
 * const result = await evaluateSuite(loadBuiltInSuite('online-banking'), { approvers: ['owner'] });
 */
export async function evaluateSuite(suite: Suite, options: EvaluateOptions = {}): Promise<SuiteEvaluation> {
  const approvers = options.approvers ?? APPROVER_BEHAVIOURS;
  const pairs = suite.userTasks.flatMap((u) => [
    { user: u, injection: undefined },
    ...suite.injectionTasks.map((i) => ({ user: u, injection: i })),
  ]);
  const modes: ModeSummary[] = [
    summarise(
      suite,
      'baseline',
      undefined,
      pairs.map((p) => runBaseline(suite, p.user, p.injection)),
    ),
  ];
  const keys = createRunKeys(suite);
  const dir = createRunDirectory();
  const total = pairs.length * approvers.length;
  let done = 0;
  try {
    for (const approver of approvers) {
      const runs: RunResult[] = [];
      for (const p of pairs) {
        runs.push(await runThroughKernel(suite, keys, approver, dir, done, p.user, p.injection));
        done += 1;
        options.onRun?.(done, total);
      }
      modes.push(summarise(suite, 'edca', approver, runs));
    }
  } finally {
    removeRunDirectory(dir);
  }
  return {
    suite: suite.name,
    ...(suite.description === undefined ? {} : { description: suite.description }),
    map: { name: suite.map.name, version: suite.map.version, digest: suite.map.digest },
    userTasks: suite.userTasks.length,
    injectionTasks: suite.injectionTasks.length,
    modes,
  };
}
