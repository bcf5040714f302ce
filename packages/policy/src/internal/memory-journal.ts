// A journal that lives in memory: `edca test` decides every case through the real kernel and then
// throws the journal away, so nothing touches the disk. It is the whole Journal port without a
// file: seq, prev, signatures and RFC 6962 checkpoints exactly as the file journal makes them, and
// it passes the same shared suite (packages/policy/test/memory-journal.test.ts).
import {
  leafHash,
  MerkleAccumulator,
  sealRecord,
  toBase64url,
  type JsonValue,
  type RecordType,
  type Signer,
} from '@edca/records';
import {
  assertDraftEnvelopes,
  KernelError,
  type AppendedRecord,
  type Journal,
  type JournalHead,
  type RecordDraft,
} from '@edca/kernel';

/** Where a memory journal keeps its records; reopening over the same storage continues the chain. */
export interface MemoryJournalStorage {
  readonly records: AppendedRecord[];
}

/** Options of {@link openMemoryJournal}. */
export interface MemoryJournalOptions {
  readonly stream: string;
  readonly signer: Signer;
  /** A `checkpoint` follows every N-th non-checkpoint record (default 1000, as the file journal). */
  readonly checkpointEvery?: number;
  /** Records of an earlier journal to continue (default: a fresh, empty journal). */
  readonly storage?: MemoryJournalStorage;
}

/** A journal kept in memory; `records` is every appended record in order, checkpoints included. */
export interface MemoryJournal extends Journal {
  readonly records: readonly AppendedRecord[];
}

/** Opens an in-memory journal signing with `signer`. */
export function openMemoryJournal(options: MemoryJournalOptions): MemoryJournal {
  const { stream, signer } = options;
  const every = options.checkpointEvery ?? 1000;
  if (!Number.isSafeInteger(every) || every < 1)
    throw new RangeError('checkpointEvery must be a positive integer');
  const records = options.storage?.records ?? [];
  const tree = new MerkleAccumulator();
  let since = 0;
  for (const r of records) {
    tree.append(leafHash(r.bytes));
    since = r.record.type === 'checkpoint' ? 0 : since + 1;
  }
  let closed = false;
  // Appends run one after another, as a journal's group commit orders them.
  let tail: Promise<unknown> = Promise.resolve();
  const unavailable = (): KernelError => new KernelError('JOURNAL_UNAVAILABLE', 'the journal is closed');

  async function seal(type: RecordType, draftAt: string, body: JsonValue): Promise<AppendedRecord> {
    const last = records.at(-1);
    // A record is never dated before the one it follows.
    const at = last !== undefined && last.record.at > draftAt ? last.record.at : draftAt;
    const sealed = await sealRecord(
      { type, stream, seq: records.length + 1, prev: last?.hash ?? null, at, body, kid: signer.kid },
      signer,
    );
    const appended = { record: sealed.record, hash: sealed.hash, bytes: sealed.bytes };
    records.push(appended);
    tree.append(leafHash(appended.bytes));
    return appended;
  }

  // Drafts accepted before close() are written: close waits for them.
  async function appendNow(drafts: readonly RecordDraft[]): Promise<AppendedRecord[]> {
    const out: AppendedRecord[] = [];
    for (const draft of drafts) {
      out.push(await seal(draft.type, draft.at, draft.body));
      since += 1;
      if (since >= every) {
        // RFC 6962 root of every record before the checkpoint (docs/record-format.md, checkpoints).
        await seal('checkpoint', records.at(-1)!.record.at, {
          size: tree.size,
          root: toBase64url(tree.root()),
        });
        since = 0;
      }
    }
    return out;
  }

  return {
    stream,
    records,
    append(drafts) {
      if (closed) return Promise.reject(unavailable());
      try {
        assertDraftEnvelopes(drafts);
      } catch (err) {
        // A bad draft is refused alone, as a rejection, before it joins the queue.
        return Promise.reject(err instanceof Error ? err : new TypeError(String(err)));
      }
      const run = tail.then(() => appendNow(drafts));
      tail = run.catch(() => undefined);
      return run;
    },
    head(): Promise<JournalHead> {
      if (closed) return Promise.reject(unavailable());
      const last = records.at(-1);
      return Promise.resolve({ seq: last?.record.seq ?? 0, hash: last?.hash ?? null });
    },
    read(fromSeq = 1) {
      if (closed) throw unavailable();
      const from = records.slice(Math.max(0, fromSeq - 1));
      return (async function* () {
        for (const r of from) yield await Promise.resolve(r);
      })();
    },
    async close() {
      closed = true;
      await tail;
    },
  };
}
