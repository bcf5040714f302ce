import type { AuditReport } from './report.js';

function counts(rec: Readonly<Record<string, number>>): string {
  const parts = Object.entries(rec)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k} ${v}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/** How `renderTextReport` lists findings. */
export interface TextReportOptions {
  /** List at most this many findings, then a line counting the rest; 0 or absent lists every one. */
  readonly maxFindings?: number;
}

/**
 * Renders a report as the plain-text summary `edca audit verify` prints: verdict, counts by
 * type, verdict and outcome, time range, keys used, checkpoints, replay, unfinished actions and
 * the findings with their seq and code (every one, or the first `maxFindings` and a count).
 */
export function renderTextReport(
  report: AuditReport,
  source = 'journal',
  options: TextReportOptions = {},
): string {
  const out: string[] = [];
  const status = report.ok ? 'INTACT' : `${report.findings.length} FINDING(S)`;
  out.push(`${source}: ${status} (${report.mode} verification, stream ${report.stream ?? 'unknown'})`);
  out.push(`records: ${report.records}`);
  if (report.timeRange !== null)
    out.push(`time range: ${report.timeRange.first} .. ${report.timeRange.last}`);
  out.push(`by type: ${counts(report.byType)}`);
  if (report.mode === 'full') {
    out.push(`decisions by verdict: ${counts(report.byVerdict)}`);
    out.push(`outcomes by status: ${counts(report.byOutcome)}`);
    if (report.sessions.ended > 0 || Object.keys(report.sessions.intakeRefusals).length > 0) {
      out.push(`model sessions ended: ${report.sessions.ended} (${counts(report.sessions.byEndReason)})`);
      out.push(`model outputs refused at intake: ${counts(report.sessions.intakeRefusals)}`);
    }
  }
  const cp = report.checkpoints;
  out.push(
    cp.last === null
      ? `checkpoints: none (no record is covered by a signed Merkle root)`
      : `checkpoints: ${cp.count}, last at seq ${cp.last.seq} covering records 1..${cp.last.size}; ` +
          `${cp.uncovered} record(s) after it`,
  );
  out.push(`signatures checked: ${report.signaturesChecked}`);
  out.push('keys used:');
  if (report.keysUsed.length === 0) out.push('  none');
  for (const k of report.keysUsed) {
    out.push(
      `  ${k.kid}  ${k.role}${k.name === undefined ? '' : `  ${k.name}`}  ${k.signatures} signature(s)`,
    );
  }
  if (report.replay !== null) {
    out.push(
      `replay: ${report.replay.replayed} of ${report.replay.decisions} decision(s) replayed, ` +
        `${report.replay.mismatches} mismatch(es)`,
    );
  }
  if (report.activations !== undefined && report.activations.some((a) => a.revision !== null)) {
    // Which signed revision governed which decisions: each activation until the next of its digest.
    out.push('policy activations:');
    for (const a of report.activations) {
      const range =
        a.firstDecision === null
          ? 'no decision'
          : `${a.decisions} decision(s), seq ${a.firstDecision}..${a.lastDecision}`;
      out.push(
        `  seq ${a.seq}  ${a.map} revision ${a.revision ?? 'unsigned'}  ${a.policyDigest}` +
          `${a.owner === null ? '' : `  owner ${a.owner}`}  ${range}`,
      );
    }
  }
  if (report.shadows !== undefined && report.shadows > 0)
    out.push(`shadow decisions: ${report.shadows} (a candidate map's; never permits)`);
  if (report.witnessed !== undefined) {
    out.push(
      report.witnessed === null
        ? 'witnessed: no checkpoint of this stream with enough valid witness cosignatures'
        : `witnessed: records 1..${report.witnessed.size} cosigned by ${report.witnessed.witnesses.length} witness(es)` +
            (report.witnessed.rejected > 0
              ? `; ${report.witnessed.rejected} cosignature(s) did not verify`
              : ''),
    );
  }
  if (report.unfinished.length > 0) {
    out.push(`unfinished actions: ${report.unfinished.length}`);
    for (const u of report.unfinished) out.push(`  seq ${u.seq}  ${u.kind}  ${u.actionHash}`);
  }
  if (report.findings.length > 0) {
    out.push('findings:');
    const max = options.maxFindings ?? 0;
    const shown = max > 0 ? report.findings.slice(0, max) : report.findings;
    for (const f of shown) out.push(`  seq ${f.seq} (line ${f.line})  ${f.code}  ${f.message}`);
    const omitted = report.findings.length - shown.length;
    if (omitted > 0) out.push(`  … and ${omitted} more finding(s) not listed`);
  }
  return out.join('\n') + '\n';
}
