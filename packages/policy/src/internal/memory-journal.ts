// A journal that lives in memory: `edca test` decides every case through the real kernel and then
// throws the journal away, so nothing touches the disk. It is the Journal port without storage:
// seq, prev and signatures exactly as any journal makes them; no checkpoints (nobody keeps proofs).
import { sealRecord, type Signer } from '@edca/records';
import {
  assertDraftEnvelopes,
  KernelError,
  type AppendedRecord,
  type Journal,
  type JournalHead,
  type RecordDraft,
} from '@edca/kernel';

/** A journal kept in memory; `records` is every appended record in order. */
export interface MemoryJournal extends Journal {
  readonly records: readonly AppendedRecord[];
}

/** Opens an empty in-memory journal signing with `signer`. */
export function openMemoryJournal(stream: string, signer: Signer): MemoryJournal {
  const records: AppendedRecord[] = [];
  let closed = false;
  // Appends run one after another, as a journal's group commit would order them.
  let tail: Promise<unknown> = Promise.resolve();
  const unavailable = (): KernelError => new KernelError('JOURNAL_UNAVAILABLE', 'the journal is closed');

  async function appendNow(drafts: readonly RecordDraft[]): Promise<AppendedRecord[]> {
    if (closed) throw unavailable();
    const out: AppendedRecord[] = [];
    for (const draft of drafts) {
      const last = records.at(-1);
      // A record is never dated before the one it follows.
      const at = last !== undefined && last.record.at > draft.at ? last.record.at : draft.at;
      const sealed = await sealRecord(
        {
          type: draft.type,
          stream,
          seq: records.length + 1,
          prev: last?.hash ?? null,
          at,
          body: draft.body,
          kid: signer.kid,
        },
        signer,
      );
      const appended = { record: sealed.record, hash: sealed.hash, bytes: sealed.bytes };
      records.push(appended);
      out.push(appended);
    }
    return out;
  }

  return {
    stream,
    records,
    append(drafts) {
      assertDraftEnvelopes(drafts);
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
      await tail;
      closed = true;
    },
  };
}
