import { assertIJson, isRecordType } from '@edca/records';
import type { RecordDraft } from '@edca/kernel';

const RFC3339_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Refuses malformed drafts before they join a group (a bad draft must not fail other callers'
 * appends), with the same rules and errors as the file journal.
 * @throws TypeError for a malformed draft or a caller-made checkpoint; RecordsError for a body that is not I-JSON.
 */
export function validateDrafts(drafts: readonly RecordDraft[]): void {
  const list: unknown = drafts;
  if (!Array.isArray(list)) throw new TypeError('drafts must be an array');
  for (const draft of drafts) {
    if (typeof draft !== 'object' || draft === null) throw new TypeError('a draft must be an object');
    if (!isRecordType(draft.type)) throw new TypeError('draft.type must be a record type');
    if (draft.type === 'checkpoint')
      throw new TypeError('checkpoint records are written by the journal itself');
    if (
      typeof draft.at !== 'string' ||
      !RFC3339_MS_UTC.test(draft.at) ||
      Number.isNaN(Date.parse(draft.at))
    ) {
      throw new TypeError('draft.at must be an RFC 3339 UTC timestamp with milliseconds');
    }
    assertIJson(draft.body);
  }
}
