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

/** An escalation still waiting for approvers, as read back from the journal. */
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
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
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
  const open = new Map<
    string,
    { info: Omit<PendingApprovalInfo, 'approvers'>; kids: Set<string>; rejected: boolean }
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
      if (entry === undefined) continue;
      if (body['verdict'] === 'reject') entry.rejected = true;
      else if (isObject(body['approver'])) entry.kids.add(str(body['approver']['kid']));
    }
  }
  const out: PendingApprovalInfo[] = [];
  for (const { info, kids, rejected } of open.values()) {
    if (rejected || kids.size >= info.required.count || Date.parse(info.expiresAt) <= nowMs) continue;
    out.push({ ...info, approvers: kids.size });
  }
  return out;
}

/**
 * Finds the one pending approval whose id starts with `idOrPrefix` (at least 8 hex digits after
 * `sha256:`, or the bare hex).
 * @throws McpError APPROVAL_NOT_FOUND, APPROVAL_AMBIGUOUS
 */
export function findPendingApproval(
  pending: readonly PendingApprovalInfo[],
  idOrPrefix: string,
): PendingApprovalInfo {
  const wanted = idOrPrefix.startsWith('sha256:') ? idOrPrefix : `sha256:${idOrPrefix}`;
  if (!/^sha256:[0-9a-f]{8,64}$/.test(wanted))
    throw new McpError('APPROVAL_NOT_FOUND', `${idOrPrefix} is not an approval id (sha256:<hex>)`);
  const hits = pending.filter((p) => p.id.startsWith(wanted));
  if (hits.length === 0) throw new McpError('APPROVAL_NOT_FOUND', `no pending approval ${idOrPrefix}`);
  if (hits.length > 1)
    throw new McpError('APPROVAL_AMBIGUOUS', `${idOrPrefix} matches ${hits.length} pending approvals`);
  return hits[0]!;
}

/**
 * Drops a signed statement (and the approver's free-text reason, which is not signed and not
 * journaled: the approval record has no field for it) into the inbox atomically (write, then rename), so the server never
 * reads half a file.
 * @throws McpError INBOX_UNWRITABLE
 */
export function writeApprovalToInbox(inbox: string, signed: SignedApproval, reason?: string): string {
  const name = `${Date.now()}-${randomBytes(6).toString('hex')}.json`;
  try {
    mkdirSync(inbox, { recursive: true, mode: 0o700 });
    const tmp = join(inbox, `.${name}.tmp`);
    writeFileSync(tmp, `${JSON.stringify(reason === undefined ? signed : { ...signed, reason })}\n`, {
      mode: 0o600,
    });
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
