import type { AuditReport } from './report.js';

function counts(rec: Readonly<Record<string, number>>): string {
  const parts = Object.entries(rec)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k} ${v}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/**
 * Renders a report as the plain-text summary `edca audit verify` prints: verdict, counts by
 * type, verdict and outcome, time range, keys used, checkpoints, replay, unfinished actions and
 * every finding with its seq and code.
 */
export function renderTextReport(report: AuditReport, source = 'journal'): string {
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
  if (report.unfinished.length > 0) {
    out.push(`unfinished actions: ${report.unfinished.length}`);
    for (const u of report.unfinished) out.push(`  seq ${u.seq}  ${u.kind}  ${u.actionHash}`);
  }
  if (report.findings.length > 0) {
    out.push('findings:');
    for (const f of report.findings) out.push(`  seq ${f.seq} (line ${f.line})  ${f.code}  ${f.message}`);
  }
  return out.join('\n') + '\n';
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Renders a report as a standalone HTML page (no scripts, no external resources). */
export function renderHtmlReport(report: AuditReport, source = 'journal'): string {
  const rows = (rec: Readonly<Record<string, number>>): string =>
    Object.entries(rec)
      .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${v}</td></tr>`)
      .join('');
  const findings = report.findings
    .map(
      (f) =>
        `<tr><td>${f.seq}</td><td>${f.line}</td><td><code>${f.code}</code></td><td>${esc(f.message)}</td></tr>`,
    )
    .join('');
  const unfinished = report.unfinished
    .map((u) => `<tr><td>${u.seq}</td><td>${u.kind}</td><td><code>${esc(u.actionHash)}</code></td></tr>`)
    .join('');
  const keys = report.keysUsed
    .map(
      (k) =>
        `<tr><td><code>${esc(k.kid)}</code></td><td>${esc(k.role)}</td><td>${esc(k.name ?? '')}</td><td>${k.signatures}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edca audit: ${esc(source)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #999;padding:.2em .6em;text-align:left}.ok{color:#060}.bad{color:#a00}</style>
</head><body>
<h1>edca audit: ${esc(source)}</h1>
<p class="${report.ok ? 'ok' : 'bad'}"><strong>${report.ok ? 'INTACT' : `${report.findings.length} finding(s)`}</strong> — ${report.mode} verification, stream ${esc(report.stream ?? 'unknown')}, ${report.records} records${report.timeRange === null ? '' : `, ${esc(report.timeRange.first)} .. ${esc(report.timeRange.last)}`}</p>
<h2>Records by type</h2><table><tr><th>type</th><th>count</th></tr>${rows(report.byType)}</table>
<h2>Decisions by verdict</h2><table><tr><th>verdict</th><th>count</th></tr>${rows(report.byVerdict)}</table>
<h2>Outcomes by status</h2><table><tr><th>status</th><th>count</th></tr>${rows(report.byOutcome)}</table>
<h2>Keys used</h2><table><tr><th>kid</th><th>role</th><th>name</th><th>signatures</th></tr>${keys}</table>
<h2>Checkpoints</h2><p>${report.checkpoints.count} checkpoint(s)${report.checkpoints.last === null ? '' : `; the last, at seq ${report.checkpoints.last.seq}, covers records 1..${report.checkpoints.last.size}`}; ${report.checkpoints.uncovered} record(s) after it.</p>
${report.replay === null ? '' : `<h2>Replay</h2><p>${report.replay.replayed} of ${report.replay.decisions} decision(s) replayed, ${report.replay.mismatches} mismatch(es).</p>`}
<h2>Unfinished actions</h2><table><tr><th>seq</th><th>kind</th><th>action hash</th></tr>${unfinished}</table>
<h2>Findings</h2><table><tr><th>seq</th><th>line</th><th>code</th><th>detail</th></tr>${findings}</table>
</body></html>
`;
}
