import { digestBytes } from '@edca/records';
import { toJournalLines } from './internal/lines.js';
import type { JournalInput } from './verify-journal.js';

/** One step that followed a decision: an approval, an attempt or an outcome. */
export interface TrailStep {
  readonly seq: number;
  readonly at: string;
  readonly type: 'approval' | 'attempt' | 'outcome';
  /** `approve`/`reject` for an approval, `try N` for an attempt, the status for an outcome. */
  readonly summary: string;
  /** The approver's role and signed reason, if any (approvals), the error code (failed outcomes), or empty. */
  readonly detail: string;
}

/** One decision as an auditor reads it, with what followed it. */
export interface TrailDecision {
  readonly seq: number;
  readonly at: string;
  readonly intent: string;
  readonly verdict: string;
  readonly rule: string;
  readonly reasons: readonly string[];
  readonly accountable: string;
  readonly principal: string;
  readonly model: string;
  /** Approvals, attempts and outcomes that name this decision, in journal order. */
  readonly steps: readonly TrailStep[];
}

/** A record named by nothing above (key, policy, checkpoint, or one that could not be read). */
export interface TrailRecord {
  readonly seq: number;
  readonly at: string;
  readonly type: string;
}

/** What an auditor's report shows record by record. Display only: verification is `verifyJournal`'s. */
export interface AuditTrail {
  readonly decisions: readonly TrailDecision[];
  readonly others: readonly TrailRecord[];
}

type Obj = Readonly<Record<string, unknown>>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

function principalOf(v: unknown): string {
  if (typeof v === 'string') return v;
  if (isObj(v) && typeof v.id === 'string') return v.id;
  return '';
}

function stepOf(type: string, seq: number, at: string, body: Obj): TrailStep | null {
  switch (type) {
    case 'approval': {
      const approver = isObj(body.approver) ? str(body.approver.role) : '';
      // The approver's own words, from the statement they signed (the audit checks that signature).
      const reason = isObj(body.statement) ? str(body.statement.reason) : '';
      const detail = reason === '' ? approver : `${approver}: ${reason}`;
      return { seq, at, type, summary: str(body.verdict, '?'), detail };
    }
    case 'attempt':
      return { seq, at, type, summary: `try ${String(body.try)}`, detail: '' };
    case 'outcome': {
      const code = isObj(body.error) ? str(body.error.code) : '';
      return { seq, at, type, summary: str(body.status, '?'), detail: code };
    }
    default:
      return null;
  }
}

/**
 * Reads a journal's decisions and, for each, the approvals, attempts and outcomes that name it
 * (by the decision record's hash), for an auditor's report. It judges nothing: a line it cannot
 * read is listed under `others` with type `unreadable`, and findings come from `verifyJournal`.
 * @example
 * const trail = collectAuditTrail(readFileSync('journal.jsonl'));
 * const html = renderHtmlReport(report, 'journal.jsonl', trail);
 */
export function collectAuditTrail(journal: JournalInput): AuditTrail {
  const decisions: { row: Omit<TrailDecision, 'steps'>; steps: TrailStep[] }[] = [];
  const byHash = new Map<string, { steps: TrailStep[] }>();
  const others: TrailRecord[] = [];
  for (const { bytes, line } of toJournalLines(journal)) {
    let rec: unknown;
    try {
      rec = JSON.parse(bytes.toString('utf8'));
    } catch {
      rec = undefined;
    }
    if (!isObj(rec) || !isObj(rec.body)) {
      others.push({ seq: line, at: '', type: 'unreadable' });
      continue;
    }
    const seq = typeof rec.seq === 'number' ? rec.seq : line;
    const at = str(rec.at);
    const type = str(rec.type, '?');
    const body = rec.body;
    if (type === 'decision') {
      const input = isObj(body.input) ? body.input : {};
      const proposal = isObj(input.proposal) ? input.proposal : {};
      const proposer = isObj(body.proposer) ? body.proposer : {};
      const entry = {
        row: {
          seq,
          at,
          intent: str(proposal.intent, '?'),
          verdict: str(body.verdict, '?'),
          rule: str(body.rule),
          reasons: Array.isArray(body.reasons) ? body.reasons.map((r) => str(r, '?')) : [],
          accountable: str(body.accountable),
          principal: principalOf(body.principal),
          model: str(proposer.modelId),
        },
        steps: [] as TrailStep[],
      };
      decisions.push(entry);
      byHash.set(digestBytes(bytes), entry);
      continue;
    }
    const step = stepOf(type, seq, at, body);
    const target = byHash.get(str(type === 'approval' ? body.decision : body.permit));
    if (step !== null && target !== undefined) target.steps.push(step);
    else others.push({ seq, at, type });
  }
  return {
    decisions: decisions.map(({ row, steps }) => ({ ...row, steps })),
    others,
  };
}
