/**
 * Human approvals outside the model's channel. The journal has one writer (the server's kernel),
 * so an approver's tool never appends to it: `edca approve` signs an approval statement with the
 * approver's key and drops it into the server's approvals inbox (a directory); the running server
 * polls the inbox, hands each statement to `kernel.approve` (which verifies it against the trust
 * file and journals it) and moves the file to `done/` with what became of it. A statement is only
 * a signed claim: a forged or misbound one is refused by the kernel exactly as in-process.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SignedApproval } from '@edca/kernel';
import { parseJson, type Digest, type SignedRecord, isObject } from '@edca/records';
import { McpError } from './errors.js';

/** Where an escalation stands, as the journal says. */
export type JournalApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

/** An escalation as read back from the journal (`edca approvals list` shows the pending ones). */
export interface PendingApprovalInfo {
  /** The escalate decision record's hash: the approval id. */
  readonly id: Digest;
  readonly intent: string;
  readonly actionHash: Digest;
  readonly required: { readonly count: number; readonly role: string };
  readonly expiresAt: string;
  /** Distinct approvers recorded so far. */
  readonly approvers: number;
  readonly decidedAt: string;
  /**
   * `rejected` once an approver's rejection is journaled (final), `approved` once enough distinct
   * approvers agreed, `expired` once the window closed, `pending` otherwise.
   */
  readonly status: JournalApprovalStatus;
  /** The rejecting approver's signed reason, when the statement carries one. */
  readonly rejectionReason?: string;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/**
 * Folds journal records into every escalation and where it stands at `nowMs` (a rejection is
 * final: a later approval record does not reopen it).
 * @example journalApprovals(records, Date.now()).filter((a) => a.status === 'rejected');
 */
export function journalApprovals(
  records: Iterable<{ readonly record: SignedRecord; readonly hash: Digest }>,
  nowMs: number,
): PendingApprovalInfo[] {
  const open = new Map<
    string,
    {
      info: Omit<PendingApprovalInfo, 'approvers' | 'status' | 'rejectionReason'>;
      kids: Set<string>;
      rejected: boolean;
      reason?: string;
    }
  >();
  for (const { record, hash } of records) {
    const body = record.body;
    if (!isObject(body)) continue;
    if (record.type === 'decision' && body['verdict'] === 'escalate' && isObject(body['pendingApproval'])) {
      const p = body['pendingApproval'];
      const input = isObject(body['input']) ? body['input'] : {};
      const proposal = isObject(input['proposal']) ? input['proposal'] : {};
      open.set(hash, {
        info: {
          id: hash,
          intent: str(proposal['intent']),
          actionHash: str(body['actionHash']) as Digest,
          required: { count: Number(p['count']), role: str(p['role']) },
          expiresAt: str(p['expiresAt']),
          decidedAt: record.at,
        },
        kids: new Set(),
        rejected: false,
      });
    }
    if (record.type === 'approval' && typeof body['decision'] === 'string') {
      const entry = open.get(body['decision']);
      if (entry === undefined || entry.rejected) continue;
      if (body['verdict'] === 'reject') {
        entry.rejected = true;
        const statement = body['statement'];
        if (isObject(statement) && typeof statement['reason'] === 'string')
          entry.reason = statement['reason'];
      } else if (isObject(body['approver'])) entry.kids.add(str(body['approver']['kid']));
    }
  }
  return [...open.values()].map(({ info, kids, rejected, reason }) => ({
    ...info,
    approvers: kids.size,
    status: rejected
      ? 'rejected'
      : kids.size >= info.required.count
        ? 'approved'
        : Date.parse(info.expiresAt) <= nowMs
          ? 'expired'
          : 'pending',
    ...(reason === undefined ? {} : { rejectionReason: reason }),
  }));
}

/**
 * Folds journal records into the approvals still pending at `nowMs`: escalations with fewer
 * distinct approvers than required, no rejection, and an open window.
 * @example pendingApprovals(records, Date.now()).map((p) => p.id);
 */
export function pendingApprovals(
  records: Iterable<{ readonly record: SignedRecord; readonly hash: Digest }>,
  nowMs: number,
): PendingApprovalInfo[] {
  return journalApprovals(records, nowMs).filter((a) => a.status === 'pending');
}

/**
 * Finds the one escalation whose id starts with `idOrPrefix` (at least 8 hex digits after
 * `sha256:`, or the bare hex) and that still waits for approvers.
 * @throws McpError APPROVAL_NOT_FOUND, APPROVAL_AMBIGUOUS; APPROVAL_REJECTED, APPROVAL_EXPIRED or
 *   APPROVAL_CLOSED when it matched one that can no longer take a statement
 */
export function findPendingApproval(
  approvals: readonly PendingApprovalInfo[],
  idOrPrefix: string,
): PendingApprovalInfo {
  const wanted = idOrPrefix.startsWith('sha256:') ? idOrPrefix : `sha256:${idOrPrefix}`;
  if (!/^sha256:[0-9a-f]{8,64}$/.test(wanted))
    throw new McpError('APPROVAL_NOT_FOUND', `${idOrPrefix} is not an approval id (sha256:<hex>)`);
  const hits = approvals.filter((p) => p.id.startsWith(wanted));
  if (hits.length === 0) throw new McpError('APPROVAL_NOT_FOUND', `no pending approval ${idOrPrefix}`);
  if (hits.length > 1)
    throw new McpError('APPROVAL_AMBIGUOUS', `${idOrPrefix} matches ${hits.length} approvals`);
  const hit = hits[0]!;
  if (hit.status === 'rejected')
    throw new McpError(
      'APPROVAL_REJECTED',
      `${hit.id} was rejected${hit.rejectionReason === undefined ? '' : ` (${hit.rejectionReason})`}; a rejection is final`,
    );
  if (hit.status === 'expired')
    throw new McpError('APPROVAL_EXPIRED', `${hit.id} expired at ${hit.expiresAt}`);
  if (hit.status === 'approved')
    throw new McpError('APPROVAL_CLOSED', `${hit.id} already has the approvals it needs`);
  return hit;
}

/**
 * Drops a signed statement into the inbox atomically (write, then rename), so the server never
 * reads half a file. Everything the approver says, the reason included, is inside the signed
 * statement.
 * @throws McpError INBOX_UNWRITABLE
 */
export function writeApprovalToInbox(inbox: string, signed: SignedApproval): string {
  const name = `${Date.now()}-${randomBytes(6).toString('hex')}.json`;
  try {
    mkdirSync(inbox, { recursive: true, mode: 0o700 });
    const tmp = join(inbox, `.${name}.tmp`);
    writeFileSync(tmp, `${JSON.stringify(signed)}\n`, { mode: 0o600 });
    renameSync(tmp, join(inbox, name));
  } catch (err) {
    throw new McpError(
      'INBOX_UNWRITABLE',
      `cannot write to ${inbox}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  return join(inbox, name);
}

/** A running inbox watcher. */
export interface InboxWatcher {
  /** Processes whatever is in the inbox now (also what the timer does). */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Polls `inbox` every `pollMs` and hands each statement to `take`; the file then moves to `done/`
 * (with the answer) or, when it is not a statement at all, to `malformed/`.
 */
export function watchApprovalInbox(
  inbox: string,
  take: (signed: SignedApproval) => Promise<unknown>,
  options: { readonly pollMs: number; readonly onError?: (err: unknown) => void },
): InboxWatcher {
  mkdirSync(join(inbox, 'done'), { recursive: true, mode: 0o700 });
  mkdirSync(join(inbox, 'malformed'), { recursive: true, mode: 0o700 });
  let running: Promise<void> = Promise.resolve();
  let stopped = false;

  async function once(): Promise<void> {
    let names: string[];
    try {
      names = readdirSync(inbox)
        .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
        .sort();
    } catch (err) {
      options.onError?.(err);
      return;
    }
    for (const name of names) {
      if (stopped) return;
      const path = join(inbox, name);
      let signed: SignedApproval;
      try {
        signed = parseJson(readFileSync(path, 'utf8')) as unknown as SignedApproval;
        if (!isObject(signed) || !isObject(signed.statement)) throw new Error('not a signed approval');
      } catch {
        renameSync(path, join(inbox, 'malformed', name));
        continue;
      }
      let answer: unknown;
      try {
        answer = await take(signed);
      } catch (err) {
        options.onError?.(err);
        answer = { status: 'refused', code: 'APPROVAL_FAILED' };
      }
      writeFileSync(join(inbox, 'done', name), `${JSON.stringify({ signed, answer })}\n`, { mode: 0o600 });
      rmSync(path, { force: true });
    }
  }

  function drain(): Promise<void> {
    running = running.then(once, once);
    return running;
  }

  const timer = setInterval(() => void drain(), options.pollMs);
  timer.unref();
  return {
    drain,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running.catch(() => undefined);
    },
  };
}
