import type { JsonValue } from '@edca/records';

// Read-only views of the record bodies pinned in docs/contracts.md. They are used only after the
// body passed `recordBodySchemas` (zod) from @edca/records, so the casts below never lie.

export interface DecisionBody {
  readonly verdict: 'permit' | 'refuse' | 'escalate';
  readonly decisionKey: string;
  readonly policyDigest: string;
  readonly stateHash: string;
  readonly actionHash: string;
  /** Any I-JSON value as far as the record schema goes: read it through `readDecisionInput`. */
  readonly input: JsonValue;
  readonly rule: string;
  readonly reasons: readonly string[];
  readonly expiresAt?: string;
  readonly accountable: string;
  readonly pendingApproval?: {
    readonly role?: JsonValue;
    readonly count?: JsonValue;
    readonly expiresAt?: JsonValue;
  } & Record<string, JsonValue | undefined>;
}

export interface ApprovalBody {
  readonly decision: string;
  readonly actionHash: string;
  readonly verdict: 'approve' | 'reject';
  readonly approver: { readonly kid: string; readonly role: string };
  readonly statement: JsonValue;
  readonly sig: string;
}

export interface IntakeRefusedBody {
  readonly session: string;
  readonly code: string;
}

export interface SessionEndedBody {
  readonly session: string;
  readonly reason: string;
}

export interface AttemptBody {
  readonly permit: string;
  readonly actionHash: string;
  readonly idempotencyKey: string;
  readonly try: number;
}

export interface OutcomeBody {
  readonly attempt: string;
  readonly permit: string;
  readonly status: 'completed' | 'failed' | 'unknown' | 'compensated';
}

export interface CheckpointBody {
  readonly size: number;
  readonly root: string;
}

export interface KeyBody {
  readonly kid: string;
  readonly publicKey: string;
  readonly role: string;
}

export interface PolicyBody {
  readonly policyDigest: string;
  readonly name: string;
  readonly version: string;
  readonly owner: string;
}

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
