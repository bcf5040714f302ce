import { createHash } from 'node:crypto';
import type { AuditReport } from './report.js';
import type { AuditTrail, TrailDecision } from './trail.js';

/** How much of a trail an HTML report shows. */
export interface HtmlReportOptions {
  /** Decisions listed at most (the rest are counted, not shown); default 10,000. */
  readonly maxDecisions?: number;
}

const DEFAULT_MAX_DECISIONS = 10_000;
const VERDICT_ORDER = ['permit', 'escalate', 'refuse'] as const;

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function counts(rec: Readonly<Record<string, number>>): string {
  const entries = Object.entries(rec).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return '<p class="muted">none</p>';
  return `<table class="counts">${entries.map(([k, v]) => `<tr><td>${esc(k)}</td><td class="num">${v}</td></tr>`).join('')}</table>`;
}

// The only script: filters the decision table and opens a chain when a link points into it. The
// page's CSP allows exactly this script (by hash) and nothing from the network.
const SCRIPT = `(() => {
  const v = document.getElementById('f-verdict');
  const i = document.getElementById('f-intent');
  const n = document.getElementById('f-count');
  const rows = Array.from(document.querySelectorAll('#decisions tbody tr'));
  function apply() {
    let shown = 0;
    for (const r of rows) {
      const ok = (!v.value || r.dataset.verdict === v.value) && (!i.value || r.dataset.intent === i.value);
      r.hidden = !ok;
      if (ok) shown++;
    }
    n.textContent = shown + ' of ' + rows.length + ' decisions shown';
  }
  function reveal() {
    const id = decodeURIComponent(location.hash.slice(1));
    const el = id ? document.getElementById(id) : null;
    if (!el) return;
    const tr = el.closest('tr');
    if (tr && tr.hidden) { v.value = ''; i.value = ''; apply(); }
    const d = el.closest('details');
    if (d) d.open = true;
    el.scrollIntoView({ block: 'center' });
  }
  v.addEventListener('change', apply);
  i.addEventListener('change', apply);
  window.addEventListener('hashchange', reveal);
  window.addEventListener('beforeprint', () => {
    for (const d of document.querySelectorAll('details')) d.open = true;
  });
  apply();
  reveal();
})();`;

const SCRIPT_HASH = createHash('sha256').update(SCRIPT, 'utf8').digest('base64');

const STYLE = `
:root{--permit:#1b7f3b;--escalate:#b26b00;--refuse:#b3261e;--other:#666;--line:#ccc}
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em 2em;color:#111}
h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.6em 0 .5em;border-bottom:1px solid var(--line)}
.status{display:inline-block;padding:.2em .7em;border-radius:4px;color:#fff;font-weight:700}
.status.ok{background:var(--permit)}.status.bad{background:var(--refuse)}
.muted{color:#666}.t{white-space:nowrap}.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;gap:1.5em}.grid>div{min-width:12em}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid var(--line);padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}code{font-size:.92em}
.v{font-weight:700}.v-permit{color:var(--permit)}.v-escalate{color:var(--escalate)}.v-refuse{color:var(--refuse)}
tr:target,li:target{outline:2px solid #1a5fb4;background:#eef4ff}
details summary{cursor:pointer;color:#1a5fb4}details ol{margin:.3em 0 .2em 1.2em;padding:0}
.filters{margin:.5em 0;display:flex;gap:1em;align-items:center}
.legend span{margin-right:1em}.legend i{display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:-1px}
@media print{.filters{display:none}body{margin:0;font-size:11px}tr{break-inside:avoid}a{color:inherit;text-decoration:none}}
`;

const COLOURS: Readonly<Record<string, string>> = {
  permit: 'var(--permit)',
  escalate: 'var(--escalate)',
  refuse: 'var(--refuse)',
};

/** Decisions per time bucket and verdict, as an inline SVG stacked bar chart. */
function timeChart(decisions: readonly TrailDecision[]): string {
  const times = decisions.map((d) => Date.parse(d.at)).filter((t) => Number.isFinite(t));
  if (times.length === 0) return '<p class="muted">no decisions</p>';
  let first = times[0]!;
  let last = first;
  for (const t of times) {
    if (t < first) first = t;
    if (t > last) last = t;
  }
  const buckets = Math.max(1, Math.min(24, decisions.length));
  const span = Math.max(1, last - first);
  const bins = Array.from({ length: buckets }, () => new Map<string, number>());
  for (const d of decisions) {
    const t = Date.parse(d.at);
    if (!Number.isFinite(t)) continue;
    const b = Math.min(buckets - 1, Math.floor(((t - first) / span) * buckets));
    const key = d.verdict in COLOURS ? d.verdict : 'other';
    bins[b]!.set(key, (bins[b]!.get(key) ?? 0) + 1);
  }
  const max = Math.max(...bins.map((m) => [...m.values()].reduce((a, b) => a + b, 0)));
  const w = 720;
  const h = 160;
  const pad = 28;
  const bw = (w - pad * 2) / buckets;
  const bars: string[] = [];
  bins.forEach((m, b) => {
    let y = h - pad;
    const from = new Date(first + (span * b) / buckets).toISOString();
    for (const verdict of [...VERDICT_ORDER, 'other']) {
      const n = m.get(verdict) ?? 0;
      if (n === 0) continue;
      const bh = ((h - pad * 2) * n) / max;
      y -= bh;
      bars.push(
        `<rect class="bar" data-verdict="${verdict}" data-count="${n}" x="${(pad + b * bw + 1).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${bh.toFixed(1)}" fill="${COLOURS[verdict] ?? 'var(--other)'}"><title>${n} ${verdict} from ${from}</title></rect>`,
      );
    }
  });
  const label = (t: number): string => esc(new Date(t).toISOString().replace('.000Z', 'Z'));
  return `<svg id="chart" role="img" aria-label="decisions over time by verdict" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">
<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#999"/>
<text x="${pad}" y="${h - 8}" font-size="11">${label(first)}</text>
<text x="${w - pad}" y="${h - 8}" font-size="11" text-anchor="end">${label(last)}</text>
<text x="2" y="${pad}" font-size="11">${max}</text>
${bars.join('\n')}
</svg>
<div class="legend">${VERDICT_ORDER.map((v) => `<span><i style="background:${COLOURS[v]}"></i>${v}</span>`).join('')}</div>`;
}

function decisionRow(d: TrailDecision): string {
  const steps =
    d.steps.length === 0
      ? '<span class="muted">—</span>'
      : `<details><summary>${d.steps.length} step(s)</summary><ol>${d.steps
          .map(
            (s) =>
              `<li id="rec-${s.seq}">seq ${s.seq} · ${esc(s.at)} · ${s.type} <b>${esc(s.summary)}</b>${s.detail === '' ? '' : ` (${esc(s.detail)})`}</li>`,
          )
          .join('')}</ol></details>`;
  return `<tr id="rec-${d.seq}" data-seq="${d.seq}" data-verdict="${esc(d.verdict)}" data-intent="${esc(d.intent)}">
<td class="num">${d.seq}</td><td class="t">${esc(d.at)}</td><td>${esc(d.intent)}</td><td class="v v-${esc(d.verdict)}">${esc(d.verdict)}</td>
<td><code>${esc(d.rule)}</code></td><td>${d.reasons.map((r) => `<code>${esc(r)}</code>`).join(' ')}</td>
<td>${esc(d.accountable)}</td><td>${esc(d.principal)}</td><td>${esc(d.model)}</td><td>${steps}</td></tr>`;
}

/**
 * Renders a report as one self-contained HTML page for an auditor: a summary, findings linked to
 * their records, a time chart of decisions by verdict, and, given the journal's trail
 * (`collectAuditTrail`), a table of every decision (filterable by verdict and intent; each row
 * carries `data-seq` and `data-verdict`) with each decision's approvals, attempts and outcomes one
 * click away. No resource is loaded from anywhere; the page's only script is pinned by its CSP.
 */
export function renderHtmlReport(
  report: AuditReport,
  source = 'journal',
  trail?: AuditTrail,
  options: HtmlReportOptions = {},
): string {
  const maxDecisions = options.maxDecisions ?? DEFAULT_MAX_DECISIONS;
  const decisions = trail?.decisions ?? [];
  const shown = decisions.slice(0, maxDecisions);
  const intents = [...new Set(decisions.map((d) => d.intent))].sort();
  const anchored = new Set<number>();
  for (const d of shown) {
    anchored.add(d.seq);
    for (const s of d.steps) anchored.add(s.seq);
  }
  const others = (trail?.others ?? []).filter((r) => !anchored.has(r.seq));
  for (const r of others) anchored.add(r.seq);
  const seqLink = (seq: number): string =>
    anchored.has(seq) ? `<a href="#rec-${seq}">${seq}</a>` : String(seq);

  const findings =
    report.findings.length === 0
      ? '<p>No findings.</p>'
      : `<table id="findings"><thead><tr><th>seq</th><th>line</th><th>code</th><th>detail</th></tr></thead><tbody>${report.findings
          .map(
            (f) =>
              `<tr data-seq="${f.seq}"><td class="num">${seqLink(f.seq)}</td><td class="num">${f.line}</td><td><code>${esc(f.code)}</code></td><td>${esc(f.message)}</td></tr>`,
          )
          .join('')}</tbody></table>`;
  const keys = report.keysUsed
    .map(
      (k) =>
        `<tr><td><code>${esc(k.kid)}</code></td><td>${esc(k.role)}</td><td>${esc(k.name ?? '')}</td><td class="num">${k.signatures}</td></tr>`,
    )
    .join('');
  const unfinished =
    report.unfinished.length === 0
      ? '<p>None.</p>'
      : `<table><tr><th>seq</th><th>kind</th><th>action hash</th></tr>${report.unfinished
          .map(
            (u) =>
              `<tr><td class="num">${seqLink(u.seq)}</td><td>${u.kind}</td><td><code>${esc(u.actionHash)}</code></td></tr>`,
          )
          .join('')}</table>`;
  const cp = report.checkpoints;
  const decisionsSection =
    trail === undefined
      ? '<p class="muted">The journal\'s records were not given to the report.</p>'
      : `<div class="filters">
<label>verdict <select id="f-verdict"><option value="">all</option>${VERDICT_ORDER.map((v) => `<option value="${v}">${v}</option>`).join('')}</select></label>
<label>intent <select id="f-intent"><option value="">all</option>${intents.map((i) => `<option value="${esc(i)}">${esc(i)}</option>`).join('')}</select></label>
<span id="f-count">${shown.length} of ${shown.length} decisions shown</span></div>
${decisions.length > shown.length ? `<p class="muted">${decisions.length - shown.length} later decision(s) not listed here; use <code>--json</code>.</p>` : ''}
<table id="decisions"><thead><tr><th>seq</th><th>time</th><th>intent</th><th>verdict</th><th>rule</th><th>reasons</th><th>accountable</th><th>principal</th><th>model</th><th>chain</th></tr></thead>
<tbody>${shown.map(decisionRow).join('\n')}</tbody></table>
<h2>Other records</h2>
${others.length === 0 ? '<p>None.</p>' : `<table id="others"><tr><th>seq</th><th>type</th><th>time</th></tr>${others.map((r) => `<tr id="rec-${r.seq}" data-seq="${r.seq}"><td class="num">${r.seq}</td><td>${esc(r.type)}</td><td>${esc(r.at)}</td></tr>`).join('')}</table>`}`;

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${SCRIPT_HASH}'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edca audit: ${esc(source)}</title>
<style>${STYLE}</style>
</head><body>
<h1>edca audit: ${esc(source)}</h1>
<p><span id="status" class="status ${report.ok ? 'ok' : 'bad'}">${report.ok ? 'INTACT' : `${report.findings.length} FINDING(S)`}</span>
 ${report.mode} verification · stream <code>${esc(report.stream ?? 'unknown')}</code> · ${report.records} records${report.timeRange === null ? '' : ` · ${esc(report.timeRange.first)} .. ${esc(report.timeRange.last)}`}</p>
<h2>Summary</h2>
<div class="grid">
<div><h3>Decisions by verdict</h3>${counts(report.byVerdict)}</div>
<div><h3>Outcomes by status</h3>${counts(report.byOutcome)}</div>
<div><h3>Records by type</h3>${counts(report.byType)}</div>
<div><h3>Checkpoints</h3><p>${cp.count} checkpoint(s)${cp.last === null ? '' : `; the last, at seq ${cp.last.seq}, covers records 1..${cp.last.size}`}; ${cp.uncovered} record(s) after it.</p>
${report.replay === null ? '<p class="muted">No replay (no maps given).</p>' : `<p>Replay: ${report.replay.replayed} of ${report.replay.decisions} decision(s) replayed, ${report.replay.mismatches} mismatch(es).</p>`}
<p>${report.signaturesChecked} signature(s) checked.</p></div>
</div>
<h2>Findings</h2>
${findings}
<h2>Decisions over time</h2>
${timeChart(decisions)}
<h2>Decisions</h2>
${decisionsSection}
<h2>Unfinished actions</h2>
${unfinished}
<h2>Keys used</h2>
<table><tr><th>kid</th><th>role</th><th>name</th><th>signatures</th></tr>${keys}</table>
<script>${SCRIPT}</script>
</body></html>
`;
}
