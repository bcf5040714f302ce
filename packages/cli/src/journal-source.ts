/**
 * Where a command reads a journal from: a JSON Lines file, or a stream in a PostgreSQL database
 * (`postgres://…` or `postgresql://…` plus a stream name). Shared by `edca journal` and `edca audit`
 * so every command that takes a journal takes `--store postgres://...` the same way.
 */
import { KernelError } from '@edca/kernel';
import { exportJournal, PostgresStoreError } from '@edca/store-postgres';
import { CliError, EXIT } from './exit-codes.js';
import { readBytes } from './io.js';

/** A journal location. */
export type JournalSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly stream: string };

/** Whether `location` is a PostgreSQL connection URL rather than a file path. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(location);
}

/**
 * Parses a journal location: a PostgreSQL URL needs a stream; anything else is a file path (`-` is
 * standard input).
 * @throws CliError USAGE (exit 2) when a PostgreSQL URL comes without a stream.
 */
export function parseJournalSource(location: string, stream?: string): JournalSource {
  if (isPostgresUrl(location)) {
    if (stream === undefined || stream === '') {
      throw new CliError('USAGE', 'a PostgreSQL journal needs --stream <name>');
    }
    return { kind: 'postgres', url: location, stream };
  }
  return { kind: 'file', path: location };
}

/** A printable name for reports and messages (never the URL, which may carry a password). */
export function describeJournalSource(source: JournalSource): string {
  if (source.kind === 'file') return source.path;
  let where = 'postgres';
  try {
    const u = new URL(source.url);
    where = `postgres://${u.host}${u.pathname}`;
  } catch {
    // keep the generic name
  }
  return `${where}#${source.stream}`;
}

function storeError(err: unknown, source: JournalSource): CliError {
  const name = describeJournalSource(source);
  if (err instanceof KernelError && err.code === 'JOURNAL_CORRUPT') {
    return new CliError('JOURNAL_INCOMPLETE', `${name}: ${err.message}`, EXIT.CHECK_FAILED);
  }
  if (err instanceof KernelError || err instanceof PostgresStoreError) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return new CliError('STORE_UNAVAILABLE', `${name}: ${err.message}${cause}`);
  }
  return new CliError('STORE_UNAVAILABLE', `${name}: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * Yields the journal one record at a time as its exact stored bytes (no newline). A file yields its
 * lines as they are; a PostgreSQL stream yields the stored signed bytes in seq order.
 * @throws CliError IO_READ_FAILED / STORE_UNAVAILABLE (exit 2); JOURNAL_INCOMPLETE (exit 1) after the
 *   records present when a PostgreSQL stream is missing records below its head.
 */
export async function* journalSourceLines(source: JournalSource, fromSeq = 1): AsyncGenerator<Uint8Array> {
  if (source.kind === 'file') {
    const bytes = readBytes(source.path);
    let seq = 0;
    let start = 0;
    while (start < bytes.length) {
      let end = bytes.indexOf(0x0a, start);
      if (end === -1) end = bytes.length;
      seq += 1;
      if (seq >= fromSeq) yield bytes.subarray(start, end);
      start = end + 1;
    }
    return;
  }
  try {
    for await (const r of exportJournal({ connectionString: source.url, stream: source.stream, fromSeq })) {
      yield r.bytes;
    }
  } catch (err) {
    throw storeError(err, source);
  }
}

/**
 * The whole journal as JSON Lines bytes, exactly what `edca audit verify` reads from a file: the file's
 * bytes, or each stored record of the stream followed by a newline.
 * @throws CliError as `journalSourceLines`.
 */
export async function readJournalSourceBytes(source: JournalSource): Promise<Buffer> {
  if (source.kind === 'file') return readBytes(source.path);
  const parts: Uint8Array[] = [];
  const newline = Buffer.from('\n');
  for await (const line of journalSourceLines(source)) parts.push(line, newline);
  return Buffer.concat(parts);
}
