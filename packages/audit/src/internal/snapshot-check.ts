/**
 * The audit of a `snapshot` record: it must state exactly what the records before it mean. The
 * verifier's ledger has folded every record before the snapshot; the snapshot's state must be that
 * fold pruned at `prunedAt` (`snapshotMatches`), so a kernel that restarts from it decides as it
 * would have after folding the whole journal.
 */
import { snapshotMatches, type LedgerState, type SnapshotBody } from '@edca/ledger';
import type { SignedRecord } from '@edca/records';

/**
 * Why a snapshot does not match the journal before it (the message of a SNAPSHOT_MISMATCH
 * finding), or undefined when it matches.
 * @example const why = snapshotMismatch(ledger, record);
 */
export function snapshotMismatch(ledger: LedgerState, record: SignedRecord): string | undefined {
  const body = record.body as unknown as SnapshotBody;
  // Only records the fold ignores (checkpoints, keys) may stand between `through` and the snapshot.
  if (body.through >= record.seq || body.through < ledger.seq) {
    return `the snapshot claims to fold records 1..${body.through}; the last record it must fold is ${ledger.seq}`;
  }
  if (Date.parse(body.prunedAt) > Date.parse(record.at)) {
    return `the snapshot is pruned at ${body.prunedAt}, after its own time ${record.at}`;
  }
  if (!snapshotMatches(ledger, body)) {
    return `the snapshot's state is not the fold of records 1..${body.through} pruned at ${body.prunedAt}`;
  }
  return undefined;
}
