import { assertIJson } from '@edca/records';
import { assertDraftEnvelopes, type RecordDraft } from '@edca/kernel';

/**
 * Refuses malformed drafts before they join a group (a bad draft must not fail other callers'
 * appends): the envelope rules every journal shares, then an I-JSON body.
 * @throws TypeError for a malformed draft or a caller-made checkpoint; RecordsError for a body that is not I-JSON.
 */
export function validateDrafts(drafts: readonly RecordDraft[]): void {
  assertDraftEnvelopes(drafts);
  for (const draft of drafts) assertIJson(draft.body);
}
