import { hash as sha256Hex } from 'node:crypto';
import { actionHashOf, refsOf, type FastPath, type JsonValue } from '@edca/records';
import { hasExactMembers, memberValue } from './member-bytes.js';

const REFS_MEMBER = Buffer.from(',"refs":');
const CLOSE = Buffer.from('}');
const PROPOSAL = Buffer.from('proposal');
const INTENT_PARAMS = [Buffer.from('intent'), Buffer.from('params')];

/**
 * `actionHashOf(input.proposal)` (the reference, in `@edca/records`) computed from the canonical
 * bytes of a decision's input as they stand in the line, instead of canonicalizing the proposal
 * again. The action hash is `sha256(JCS({ intent, params, refs }))`; RFC 8785 sorts those keys in
 * that order and writes a value the same wherever it sits, so for a proposal of exactly `intent`
 * and `params` its preimage is the proposal's bytes with `,"refs":[…]` put before the closing
 * brace (refs are ASCII `ref_…` strings: `JSON.stringify` writes them canonically).
 * Accept-only: anything else (no such member, other members) is undefined, and the caller uses
 * the reference. `params` is the parsed value of the same bytes.
 */
export function actionHashFromInputBytes(
  input: Buffer,
  params: Readonly<Record<string, JsonValue>>,
): string | undefined {
  const proposal = memberValue(input, PROPOSAL);
  if (proposal === undefined || !hasExactMembers(proposal, INTENT_PARAMS)) return undefined;
  const preimage = Buffer.concat([
    proposal.subarray(0, proposal.length - 1),
    REFS_MEMBER,
    Buffer.from(JSON.stringify(refsOf(params))),
    CLOSE,
  ]);
  return 'sha256:' + sha256Hex('sha256', preimage, 'hex');
}

/** A recorded proposal as the action hash reads it. */
export type RecordedProposal = Parameters<typeof actionHashOf>[0];

/**
 * The action hash of a decision's recorded proposal, given the canonical bytes of its input (when
 * the verifier has them) and the parsed proposal. Reference: `actionHashOf` of the parsed proposal.
 * Fast: {@link actionHashFromInputBytes}.
 */
export const actionHashPath: FastPath<[input: Buffer | undefined, proposal: RecordedProposal], string> = {
  reference: (_input, proposal) => actionHashOf(proposal),
  fast: (input, proposal) =>
    input === undefined ? undefined : actionHashFromInputBytes(input, proposal.params),
};
