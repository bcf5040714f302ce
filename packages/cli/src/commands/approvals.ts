import { existsSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { APPROVAL_DOMAIN, signApproval, toRfc3339, type SignedApproval } from '@edca/kernel';
import {
  findPendingApproval,
  journalApprovals,
  loadServerConfig,
  writeApprovalToInbox,
  type PendingApprovalInfo,
} from '@edca/mcp';
import {
  APPROVAL_REASON_PATTERN,
  decodeRecord,
  loadPrivateKeyFile,
  recordHash,
  RecordsError,
  type Signer,
} from '@edca/records';
import { CliError, EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { journalSourceLines, parseJournalSource, type JournalSource } from '../journal-source.js';
import { toCliError } from './serve.js';

interface SourceFlags {
  config?: string;
  journal?: string;
  store?: string;
  stream?: string;
  inbox?: string;
}

interface Where {
  readonly source: JournalSource;
  readonly inbox: string | undefined;
}

/** Where the server's journal and approvals inbox are: from its config, or from the flags. */
async function locate(flags: SourceFlags): Promise<Where> {
  const given = [flags.config, flags.journal, flags.store].filter((f) => f !== undefined).length;
  if (given !== 1)
    throw new CliError(
      'USAGE',
      'give exactly one of --config FILE, --journal FILE or --store URL --stream S',
    );
  if (flags.config !== undefined) {
    let loaded;
    try {
      loaded = await loadServerConfig(flags.config);
    } catch (err) {
      throw toCliError(err);
    }
    const { config, baseDir } = loaded;
    const at = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
    const inbox =
      flags.inbox ?? (config.approvals?.inbox !== undefined ? at(config.approvals.inbox) : undefined);
    if (config.journal !== undefined)
      return {
        source: { kind: 'file', path: at(config.journal) },
        inbox: inbox ?? `${at(config.journal)}.approvals`,
      };
    if (config.store === undefined)
      throw new CliError('CONFIG_INVALID', `${flags.config} names no journal or store`);
    return { source: parseJournalSource(config.store, config.stream ?? 'edca'), inbox };
  }
  if (flags.journal !== undefined)
    return {
      source: { kind: 'file', path: flags.journal },
      inbox: flags.inbox ?? `${flags.journal}.approvals`,
    };
  return { source: parseJournalSource(flags.store!, flags.stream), inbox: flags.inbox };
}

async function readApprovals(source: JournalSource): Promise<PendingApprovalInfo[]> {
  const records = [];
  const text = new TextDecoder('utf-8', { fatal: true });
  for await (const line of journalSourceLines(source)) {
    if (line.length === 0) continue;
    try {
      const record = decodeRecord(text.decode(line));
      records.push({ record, hash: recordHash(record) });
    } catch (err) {
      const code = err instanceof RecordsError ? err.code : 'JOURNAL_CORRUPT';
      throw new CliError('JOURNAL_CORRUPT', `a journal line does not decode (${code})`, EXIT.CHECK_FAILED);
    }
  }
  return journalApprovals(records, Date.now());
}

function loadKey(path: string): Signer {
  try {
    return loadPrivateKeyFile(path);
  } catch (err) {
    if (err instanceof RecordsError) throw new CliError(err.code, `${path}: ${err.message}`);
    throw new CliError('KEY_FILE_UNREADABLE', `${path}: ${String(err)}`);
  }
}

async function waitForAnswer(inbox: string, file: string, seconds: number): Promise<unknown> {
  const done = join(inbox, 'done', basename(file));
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    if (existsSync(done)) {
      try {
        return (JSON.parse(readFileSync(done, 'utf8')) as { answer: unknown }).answer;
      } catch {
        // written but not yet complete: read again on the next turn
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

function addSourceOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', "the server's configuration (journal or store, and inbox)")
    .option('--journal <file>', "the server's journal file")
    .option('--store <url>', "the server's postgres:// store")
    .option('--stream <name>', 'with --store: the journal stream')
    .option('--inbox <dir>', "the server's approvals inbox (default <journal>.approvals)");
}

interface DecideFlags extends SourceFlags {
  key: string;
  reason?: string;
  wait: string;
}

async function decideOne(
  io: CliIo,
  id: string,
  verdict: 'approve' | 'reject',
  flags: DecideFlags,
): Promise<void> {
  if (flags.reason !== undefined && !APPROVAL_REASON_PATTERN.test(flags.reason))
    throw new CliError('USAGE', '--reason needs 1 to 1000 characters on one line');
  const where = await locate(flags);
  if (where.inbox === undefined)
    throw new CliError('USAGE', 'this store needs --inbox DIR (the server config names it)');
  const signer = loadKey(flags.key);
  let pending: PendingApprovalInfo;
  try {
    pending = findPendingApproval(await readApprovals(where.source), id);
  } catch (err) {
    throw toCliError(err);
  }
  const signed: SignedApproval = await signApproval(
    {
      domain: APPROVAL_DOMAIN,
      decision: pending.id,
      actionHash: pending.actionHash,
      verdict,
      approver: { kid: signer.kid, role: pending.required.role },
      at: toRfc3339(Date.now()),
      ...(flags.reason === undefined ? {} : { reason: flags.reason }),
    },
    signer,
  );
  let file: string;
  try {
    file = writeApprovalToInbox(where.inbox, signed);
  } catch (err) {
    throw toCliError(err);
  }
  io.stdout(
    `${verdict === 'approve' ? 'approved' : 'rejected'} ${pending.id} (${pending.intent}) as ${pending.required.role} with ${signer.kid}\n`,
  );
  io.stdout(`statement: ${file}\n`);
  const seconds = Number(flags.wait);
  if (!Number.isFinite(seconds) || seconds < 0)
    throw new CliError('USAGE', '--wait needs a number of seconds');
  if (seconds === 0) return;
  const answer = (await waitForAnswer(where.inbox, file, seconds)) as
    | { status: string; code?: string; message?: string; verdict?: string; execution?: { status: string } }
    | undefined;
  if (answer === undefined) {
    io.stdout(
      `queued: no running server took it within ${seconds} s; it will when one watches ${where.inbox}\n`,
    );
    return;
  }
  if (answer.status === 'refused' && !(verdict === 'reject' && answer.code === 'APPROVAL_REJECTED')) {
    throw new CliError(
      answer.code ?? 'APPROVAL_REFUSED',
      `the server refused the statement: ${answer.message ?? ''}`,
      EXIT.CHECK_FAILED,
    );
  }
  const execution = answer.execution === undefined ? '' : `, executed: ${answer.execution.status}`;
  io.stdout(
    `server: ${answer.status}${answer.verdict === undefined ? '' : ` ${answer.verdict}`}${execution}\n`,
  );
}

/**
 * `edca approvals list`, `edca approve ID --key FILE` and `edca reject ID --key FILE --reason TEXT`:
 * human approvals outside the model's channel, against the journal (or store) a server uses. The
 * signed statement goes to the server's approvals inbox; the running server takes it (docs/mcp.md).
 */
export function registerApprovals(program: Command, io: CliIo): void {
  const approvals = program.command('approvals').description('escalations waiting for a human approver');
  addSourceOptions(
    approvals
      .command('list')
      .description('list the pending approvals in a journal')
      .option('--json', 'print JSON'),
  ).action(async (flags: SourceFlags & { json?: boolean }) => {
    const where = await locate(flags);
    const pending = (await readApprovals(where.source)).filter((a) => a.status === 'pending');
    if (flags.json === true) {
      io.stdout(`${JSON.stringify(pending, null, 2)}\n`);
      return;
    }
    if (pending.length === 0) {
      io.stdout('no pending approvals\n');
      return;
    }
    for (const p of pending) {
      io.stdout(
        `${p.id}  ${p.intent}  waits for ${p.required.count} ${p.required.role} (${p.approvers} so far), until ${p.expiresAt}\n`,
      );
    }
  });
  for (const verdict of ['approve', 'reject'] as const) {
    const cmd = program
      .command(`${verdict} <id>`)
      .description(`sign "${verdict}" for a pending approval and hand it to the running server`)
      .requiredOption('--key <file>', "the approver's Ed25519 private key (PEM, mode 0600)")
      .option('--wait <seconds>', "how long to wait for the server's answer (0: do not wait)", '10');
    if (verdict === 'reject')
      cmd.requiredOption('--reason <text>', 'why (signed with the rejection and journaled)');
    else cmd.option('--reason <text>', 'why, optionally (signed with the approval and journaled)');
    addSourceOptions(cmd).action(async (id: string, flags: DecideFlags) => decideOne(io, id, verdict, flags));
  }
}
