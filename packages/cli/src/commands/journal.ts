import { closeSync, openSync, writeSync } from 'node:fs';
import { KernelError } from '@edca/kernel';
import { listJournalStreams, PostgresStoreError } from '@edca/store-postgres';
import { InvalidArgumentError, type Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { isPostgresUrl, journalSourceLines, parseJournalSource } from '../journal-source.js';

interface ExportFlags {
  store: string;
  stream?: string;
  from?: number;
  out?: string;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('must be a positive integer');
  }
  return n;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Registers `edca journal export|streams`. */
export function registerJournal(program: Command, io: CliIo): void {
  const journal = program.command('journal').description('read journals out of a store');

  journal
    .command('export')
    .description(
      'write a journal as JSON Lines (exact signed bytes, one record per line) for edca audit verify',
    )
    .requiredOption('--store <location>', 'postgres://… URL of the shared store, or a journal file')
    .option('--stream <name>', 'the stream to export (required for a PostgreSQL store)')
    .option('--from <seq>', 'first record to export (default 1)', positiveInt)
    .option('--out <file>', 'write to this file instead of standard output')
    .action(async (flags: ExportFlags) => {
      const source = parseJournalSource(flags.store, flags.stream);
      let fd: number | undefined;
      if (flags.out !== undefined) {
        try {
          fd = openSync(flags.out, 'w', 0o640);
        } catch (err) {
          throw new CliError(
            'IO_WRITE_FAILED',
            `cannot write ${flags.out}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
          );
        }
      }
      const newline = Buffer.from('\n');
      try {
        for await (const line of journalSourceLines(source, flags.from ?? 1)) {
          if (fd !== undefined) {
            // Raw bytes to a file: byte-exact whatever is stored.
            try {
              writeSync(fd, line);
              writeSync(fd, newline);
            } catch (err) {
              throw new CliError(
                'IO_WRITE_FAILED',
                `cannot write ${flags.out}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
              );
            }
            continue;
          }
          let text: string;
          try {
            text = utf8.decode(line);
          } catch {
            throw new CliError(
              'JOURNAL_NOT_UTF8',
              'a stored record is not UTF-8 and cannot be printed unchanged; export with --out <file>',
              EXIT.CHECK_FAILED,
            );
          }
          io.stdout(`${text}\n`);
        }
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    });

  journal
    .command('streams')
    .description('list the journal streams in a PostgreSQL store with their last seq')
    .requiredOption('--store <url>', 'postgres://… URL of the shared store')
    .option('--json', 'print JSON')
    .action(async (flags: { store: string; json?: boolean }) => {
      if (!isPostgresUrl(flags.store)) throw new CliError('USAGE', '--store must be a postgres:// URL');
      let streams: { stream: string; seq: number }[];
      try {
        streams = await listJournalStreams({ connectionString: flags.store });
      } catch (err) {
        const message =
          err instanceof KernelError || err instanceof PostgresStoreError ? err.message : String(err);
        throw new CliError('STORE_UNAVAILABLE', message);
      }
      io.stdout(
        flags.json === true
          ? `${JSON.stringify(streams, null, 2)}\n`
          : streams.map((s) => `${s.stream}\t${s.seq}\n`).join(''),
      );
    });
}
