import type { JsonValue, RecordBody } from '@edca/records';

// The record bodies are `RecordBody<T>` of @edca/records, the types of its zod schemas; these short
// names only spare the verifier the type arguments. They are read only after the body passed those
// schemas, so the casts of `asBody` never lie.

/** A decision; the schema says only "I-JSON" of `pendingApproval`, the verifier reads two members. */
export type DecisionBody = Omit<RecordBody<'decision'>, 'pendingApproval'> & {
  readonly pendingApproval?: { readonly role?: JsonValue; readonly count?: JsonValue } & Record<
    string,
    JsonValue | undefined
  >;
};
export type ApprovalBody = RecordBody<'approval'>;
export type IntakeRefusedBody = RecordBody<'intake.refused'>;
export type SessionEndedBody = RecordBody<'session.ended'>;
export type AttemptBody = RecordBody<'attempt'>;
export type OutcomeBody = RecordBody<'outcome'>;
export type CheckpointBody = RecordBody<'checkpoint'>;
export type KeyBody = RecordBody<'key.added'>;
export type PolicyBody = RecordBody<'policy.activated'>;

/** What the verifier reads of a decision's input. */
export interface DecisionInputView {
  readonly policyDigest: string;
  readonly approvals: readonly { readonly kid: string }[];
}

/**
 * The policy digest and counted approvals of a decision's recorded input, or null when the input
 * does not have the shape the kernel writes (an object naming its policy, with a list of
 * approvals each naming a key). The record schema only says the input is I-JSON, and a body
 * signed with the kernel key can still hold anything: a finding, never a crash.
 */
export function readDecisionInput(input: JsonValue): DecisionInputView | null {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return null;
  const { policyDigest, approvals } = input as { readonly [k: string]: JsonValue | undefined };
  if (typeof policyDigest !== 'string') return null;
  if (approvals === undefined) return { policyDigest, approvals: [] };
  if (!Array.isArray(approvals)) return null;
  for (const a of approvals) {
    if (typeof a !== 'object' || a === null || Array.isArray(a) || typeof a['kid'] !== 'string') return null;
  }
  return { policyDigest, approvals: approvals as unknown as readonly { readonly kid: string }[] };
}

/** Reads a JSON value as a body view; only called on bodies the records schema accepted. */
export function asBody<T>(body: JsonValue): T {
  return body as unknown as T;
}
