import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AuditError,
  checkInclusionProof,
  checkJournalConsistency,
  createInclusionProof,
  loadReplayMaps,
  parseWitnessFile,
  collectAuditTrail,
  renderHtmlReport,
  renderTextReport,
  safeVerifyJournal,
  type ReplayMaps,
  type WitnessFile,
} from '@edca/audit';
import { parseTrustFile, RecordsError, type TrustFile } from '@edca/records';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { readBytes, readTextInput, type CliIo } from '../io.js';
import { capFindings, maxFindingsOption } from '../findings-cap.js';
import { describeJournalSource, parseJournalSource, readJournalSourceBytes } from '../journal-source.js';
import { notAJournalReason } from '../sniff.js';

const PROGRESS_MIN_RECORDS = 10_000;

interface StoreFlags {
  store?: string;
  stream?: string;
}

/** Refuses (USAGE, exit 2) a command line with no journal, or with both a journal file and `--store`. */
function checkJournalArgs(arg: string | undefined, flags: StoreFlags): void {
  if (arg === undefined && flags.store === undefined) {
    throw new CliError('USAGE', 'give a journal file or --store <location>');
  }
  if (arg !== undefined && flags.store !== undefined) {
    throw new CliError('USAGE', 'give a journal file or --store <location>, not both');
  }
}

/** The journal of a command: a file (or `-`) given as the argument, or `--store postgres://… --stream S`. */
async function readJournalInput(
  arg: string | undefined,
  flags: StoreFlags,
): Promise<{ name: string; bytes: Buffer }> {
  checkJournalArgs(arg, flags);
  const source = parseJournalSource(flags.store ?? arg!, flags.stream);
  return { name: describeJournalSource(source), bytes: await readJournalSourceBytes(source) };
}

function writeOutput(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (err) {
    throw new CliError(
      'IO_WRITE_FAILED',
      `cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}

/** Reads and checks a trust file, as IO_READ_FAILED or TRUST_INVALID on failure. */
export function loadTrust(path: string): TrustFile {
  const text = readTextInput(path);
  try {
    return parseTrustFile(text);
  } catch (err) {
    if (err instanceof RecordsError) throw new CliError('TRUST_INVALID', `${path}: ${err.message}`);
    throw err;
  }
}

function loadWitnessFile(path: string): WitnessFile {
  try {
    return parseWitnessFile(JSON.parse(readTextInput(path)));
  } catch (err) {
    if (err instanceof AuditError || err instanceof SyntaxError)
      throw new CliError('WITNESS_FILE_INVALID', `${path}: ${err.message}`);
    throw err;
  }
}

function loadMaps(dir: string): ReplayMaps {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => /\.(ya?ml|json)$/i.test(n))
      .sort();
  } catch (err) {
    throw new CliError(
      'IO_READ_FAILED',
      `cannot read ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  if (names.length === 0)
    throw new CliError('MAPS_INVALID', `${dir} holds no .yaml, .yml or .json state map`);
  try {
    return loadReplayMaps(names.map((n) => ({ file: join(dir, n), text: readTextInput(join(dir, n)) })));
  } catch (err) {
    if (err instanceof AuditError) throw new CliError(err.code, err.message);
    throw err;
  }
}

/** An AuditError of a check is the command's failure (exit 1), also as JSON with --json. */
function checkFailed(err: unknown, json: boolean | undefined, io: CliIo): never {
  if (!(err instanceof AuditError)) throw err;
  if (json === true)
    io.stdout(JSON.stringify({ ok: false, code: err.code, message: err.message }, null, 2) + '\n');
  throw new CliError(err.code, err.message, EXIT.CHECK_FAILED);
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('must be a positive integer');
  }
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

interface VerifyFlags extends StoreFlags {
  trust: string;
  maps?: string;
  json?: boolean;
  html?: string;
  checkpointsOnly?: boolean;
  expectSize?: number;
  workers?: number;
  now?: string;
  maxSkew?: number;
  witnesses?: string;
  witnessQuorum?: number;
  maxFindings: number;
}

/** Registers `edca audit verify|prove|check-proof|consistency`. */
export function registerAudit(program: Command, io: CliIo): void {
  const audit = program
    .command('audit')
    .description('verify journals offline, prove single records, replay decisions');

  audit
    .command('verify')
    .description(
      'verify a journal: bytes, signatures, chain, checkpoints, permits, approvals; replay with --maps',
    )
    .argument('[journal]', 'journal file (one canonical record per line), or - for standard input')
    .option('--store <location>', 'read the journal from a PostgreSQL store (postgres://…) instead of a file')
    .option('--stream <name>', 'the stream to read from --store')
    .requiredOption('--trust <file>', 'trust file listing the kernel and approver keys')
    .option(
      '--maps <dir>',
      'directory of state maps (YAML/JSON): replay every decision against its pinned map',
    )
    .option('--json', 'print the report as JSON')
    .option('--html <file>', 'also write the report as an HTML page')
    .option('--checkpoints-only', 'fast mode: hash chain, Merkle roots and checkpoint signatures only')
    .option(
      '--expect-size <n>',
      'records the journal had at least (from a witness); fewer is TRUNCATED',
      nonNegativeInt,
    )
    .addOption(
      new Option(
        '--workers <n>',
        "signature worker threads (default: one per core but the main thread's)",
      ).argParser(nonNegativeInt),
    )
    .option(
      '--now <time>',
      "RFC 3339 time the journal is judged at: a record dated after it plus --max-skew is TIME_IN_FUTURE (default: this machine's clock)",
    )
    .option('--max-skew <seconds>', 'clock skew allowed past --now (default: 300)', nonNegativeInt)
    .option(
      '--witnesses <file>',
      'witnessed checkpoints (edca witness): a journal shorter than, or inconsistent with, the newest one is a finding',
    )
    .option(
      '--witness-quorum <k>',
      'distinct witnesses a checkpoint needs to count (default: 1)',
      positiveInt,
    )
    .addOption(maxFindingsOption('findings'))
    .action(async (journalArg: string | undefined, flags: VerifyFlags) => {
      checkJournalArgs(journalArg, flags);
      if (flags.checkpointsOnly === true && flags.maps !== undefined) {
        throw new CliError('USAGE', '--maps needs full verification; drop --checkpoints-only');
      }
      const trust = loadTrust(flags.trust);
      const maps = flags.maps === undefined ? undefined : loadMaps(flags.maps);
      const { name: journalPath, bytes } = await readJournalInput(journalArg, flags);
      const notAJournal = notAJournalReason(bytes);
      if (notAJournal !== null) {
        const message = `${journalPath}: not an edca journal: ${notAJournal}`;
        if (flags.json === true)
          io.stdout(JSON.stringify({ ok: false, code: 'NOT_A_JOURNAL', message }, null, 2) + '\n');
        throw new CliError('NOT_A_JOURNAL', message, EXIT.CHECK_FAILED);
      }
      let bar: cliProgress.SingleBar | undefined;
      const onProgress = (done: number, total: number): void => {
        if (!io.isTty || total < PROGRESS_MIN_RECORDS) return;
        if (bar === undefined) {
          bar = new cliProgress.SingleBar(
            {
              stream: process.stderr,
              format: 'verifying [{bar}] {percentage}% | {value}/{total} records | {eta}s',
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total, 0);
        }
        bar.update(done);
      };
      let result;
      try {
        result = await safeVerifyJournal(bytes, {
          trust,
          ...(maps === undefined ? {} : { maps }),
          mode: flags.checkpointsOnly === true ? 'checkpoints-only' : 'full',
          ...(flags.expectSize === undefined ? {} : { expectedSize: flags.expectSize }),
          ...(flags.workers === undefined ? {} : { workers: flags.workers }),
          now: flags.now ?? new Date().toISOString(),
          ...(flags.witnesses === undefined
            ? {}
            : {
                witnesses: {
                  file: loadWitnessFile(flags.witnesses),
                  ...(flags.witnessQuorum === undefined ? {} : { quorum: flags.witnessQuorum }),
                },
              }),
          ...(flags.maxSkew === undefined ? {} : { maxSkewMs: flags.maxSkew * 1000 }),
          onProgress,
        });
      } catch (err) {
        if (err instanceof AuditError && err.code === 'ARGUMENT_INVALID')
          throw new CliError('USAGE', err.message, EXIT.USAGE_OR_IO);
        throw err;
      } finally {
        bar?.stop();
      }
      const report = result.ok ? result.value : result.error.report!;
      if (flags.html !== undefined)
        writeOutput(flags.html, renderHtmlReport(report, journalPath, collectAuditTrail(bytes)));
      if (flags.json === true) {
        const { shown, omitted } = capFindings(report.findings, flags.maxFindings);
        const capped = { ...report, findings: shown, ...(omitted > 0 ? { findingsOmitted: omitted } : {}) };
        io.stdout(JSON.stringify(capped, null, 2) + '\n');
      } else {
        io.stdout(renderTextReport(report, journalPath, { maxFindings: flags.maxFindings }));
      }
      if (!result.ok) {
        throw new CliError(
          'AUDIT_FINDINGS',
          `${report.findings.length} finding(s) in ${journalPath}`,
          EXIT.CHECK_FAILED,
        );
      }
    });

  audit
    .command('prove')
    .description('write an RFC 6962 inclusion proof of one record under the latest checkpoint')
    .argument('[journal]', 'journal file')
    .option('--store <location>', 'read the journal from a PostgreSQL store (postgres://…) instead of a file')
    .option('--stream <name>', 'the stream to read from --store')
    .requiredOption('--seq <n>', 'the record to prove', positiveInt)
    .option('--out <file>', 'write the proof here instead of standard output')
    .action(async (journalArg: string | undefined, flags: StoreFlags & { seq: number; out?: string }) => {
      const { bytes } = await readJournalInput(journalArg, flags);
      let proof;
      try {
        proof = createInclusionProof(bytes, flags.seq);
      } catch (err) {
        if (err instanceof AuditError) throw new CliError(err.code, err.message, EXIT.CHECK_FAILED);
        throw err;
      }
      const text = JSON.stringify(proof, null, 2) + '\n';
      if (flags.out === undefined) io.stdout(text);
      else writeOutput(flags.out, text);
    });

  audit
    .command('check-proof')
    .description('verify one record, its inclusion proof and the signed checkpoint, without the journal')
    .argument('<proof>', 'proof file written by edca audit prove')
    .requiredOption('--trust <file>', 'trust file')
    .option('--json', 'print the result as JSON')
    .action((proofPath: string, flags: { trust: string; json?: boolean }) => {
      const trust = loadTrust(flags.trust);
      const text = readTextInput(proofPath);
      try {
        const v = checkInclusionProof(text, trust);
        const summary = {
          ok: true,
          seq: v.record.seq,
          type: v.record.type,
          at: v.record.at,
          stream: v.record.stream,
          checkpointSeq: v.checkpoint.seq,
          treeSize: v.treeSize,
          record: v.record,
        };
        const itself = v.record.seq === v.checkpoint.seq;
        io.stdout(
          flags.json === true
            ? JSON.stringify(summary, null, 2) + '\n'
            : itself
              ? `proof VALID: record ${v.record.seq} (checkpoint, ${v.record.at}) of stream ${v.record.stream} ` +
                `is signed by a trusted kernel key and signs the ${v.treeSize} records before it\n`
              : `proof VALID: record ${v.record.seq} (${v.record.type}, ${v.record.at}) of stream ${v.record.stream} ` +
                `is included in the ${v.treeSize}-record tree signed by checkpoint ${v.checkpoint.seq}\n`,
        );
      } catch (err) {
        checkFailed(err, flags.json, io);
      }
    });

  audit
    .command('consistency')
    .description('check that a newer copy of a journal extends an older copy (RFC 6962 consistency proof)')
    .argument('<old>', 'older copy of the journal')
    .argument('<new>', 'newer copy of the journal')
    .requiredOption('--trust <file>', 'trust file')
    .option('--json', 'print the result as JSON')
    .action(async (oldPath: string, newPath: string, flags: { trust: string; json?: boolean }) => {
      const trust = loadTrust(flags.trust);
      const older = readBytes(oldPath);
      const newer = readBytes(newPath);
      // CONSISTENT means NEW holds OLD unchanged: that says something only if OLD itself is intact.
      const oldResult = await safeVerifyJournal(older, { trust });
      if (!oldResult.ok) {
        const report = oldResult.error.report!;
        if (flags.json === true) {
          io.stdout(JSON.stringify({ ok: false, code: 'OLD_JOURNAL_INVALID', old: report }, null, 2) + '\n');
        } else {
          io.stdout(renderTextReport(report, oldPath));
        }
        throw new CliError(
          'OLD_JOURNAL_INVALID',
          `the older copy ${oldPath} is not intact (${report.findings.length} finding(s)); nothing was compared`,
          EXIT.CHECK_FAILED,
        );
      }
      try {
        const r = checkJournalConsistency(older, newer, trust);
        const oldRecords = oldResult.value.records;
        io.stdout(
          flags.json === true
            ? JSON.stringify({ ok: true, oldRecords, ...r }, null, 2) + '\n'
            : `CONSISTENT: ${newPath} contains ${oldPath} unchanged.\n` +
                `- ${oldPath}: ${oldRecords} record(s), verified intact; its last checkpoint (seq ${r.old.seq}) signs records 1..${r.old.size}.\n` +
                `- ${newPath}: its last checkpoint (seq ${r.new.seq}) signs records 1..${r.new.size}.\n` +
                (r.old.size === 0
                  ? `- records 1..${r.new.size} of the newer copy match its own signed root.\n`
                  : `- records 1..${r.old.size}: an RFC 6962 consistency proof (${r.proof.length} hash(es)) links the older signed root to the newer one.\n`) +
                (r.tailRecords === 0
                  ? `- the older copy has no record after its last checkpoint.\n`
                  : `- records ${r.old.size + 1}..${oldRecords} (after the older checkpoint): compared byte for byte.\n`) +
                `- beyond its checkpoint the newer copy was not verified here: run \`edca audit verify\` on it.\n`,
        );
      } catch (err) {
        checkFailed(err, flags.json, io);
      }
    });
}
