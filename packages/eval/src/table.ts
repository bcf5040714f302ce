/** The plain-text table `edca eval` prints: the rows side by side, then each injection task. */
import type { ModeSummary, SuiteEvaluation, Tally } from './evaluate.js';

const pct = (t: Tally): string => (t.total === 0 ? '   -  ' : `${((100 * t.passed) / t.total).toFixed(1)}%`);
const cell = (t: Tally): string => `${`${t.passed}/${t.total}`.padStart(7)} ${pct(t).padStart(6)}`;
const short = (digest: string): string => `${digest.slice(0, 15)}…`;

function pad(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * Renders one suite's evaluation as text: benign utility, utility under attack and ASR per row
 * (the baseline and each approver behaviour), then per injection task the successes per row and
 * what stopped it through edca, then the audit of the run journals.
 * @example
 * process.stdout.write(renderEvaluationTable(await evaluateSuite(suite)));
 */
export function renderEvaluationTable(e: SuiteEvaluation): string {
  const out: string[] = [];
  out.push(
    `edca eval: ${e.suite} · map ${e.map.name} ${e.map.version} (${short(e.map.digest)}) · ` +
      `${e.userTasks} user tasks × ${e.injectionTasks} injection tasks`,
    '',
  );
  out.push(
    ...pad([
      ['', 'benign utility', 'utility under attack', 'attack success (ASR)'],
      ...e.modes.map((m) => [
        m.label,
        cell(m.benignUtility),
        cell(m.utilityUnderAttack),
        cell(m.attackSuccess),
      ]),
    ]).map((l) => `  ${l}`),
  );
  const edca = e.modes.filter((m) => m.mode === 'edca');
  const last: ModeSummary | undefined = edca[edca.length - 1];
  out.push(
    '',
    `attacks that succeeded, per injection task (out of ${e.userTasks} user tasks each)` +
      (last === undefined ? '' : `, and what stopped the others (${last.label})`),
    '',
  );
  const rows: string[][] = [
    [
      'injection task',
      ...e.modes.map((m) => (m.mode === 'baseline' ? 'no kernel' : `approver ${m.approver!}`)),
      'stopped by',
    ],
  ];
  e.modes[0]!.injections.forEach((inj, i) => {
    const stops = last === undefined ? {} : last.injections[i]!.stoppedBy;
    const stopped = Object.entries(stops).map(([k, n]) => `${k} ×${n}`);
    rows.push([inj.id, ...e.modes.map((m) => String(m.injections[i]!.succeeded)), stopped[0] ?? '-']);
    for (const more of stopped.slice(1)) rows.push(['', ...e.modes.map(() => ''), more]);
  });
  out.push(...pad(rows).map((l) => `  ${l}`));
  const journals = edca.reduce((n, m) => n + (m.audit?.journals ?? 0), 0);
  const intact = edca.reduce((n, m) => n + (m.audit?.intact ?? 0), 0);
  const findings: Record<string, number> = {};
  for (const m of edca)
    for (const [k, v] of Object.entries(m.audit?.findings ?? {})) findings[k] = (findings[k] ?? 0) + v;
  out.push(
    '',
    `journals: ${journals} runs through edca, ${intact} verified intact by @edca/audit` +
      (Object.keys(findings).length === 0
        ? ''
        : `; findings: ${Object.entries(findings)
            .map(([k, v]) => `${k} ×${v}`)
            .join(', ')}`),
  );
  return `${out.join('\n')}\n`;
}
