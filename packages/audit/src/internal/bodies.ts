import type { JsonValue } from '@edca/records';

// Read-only views of the record bodies pinned in docs/contracts.md. They are used only after the
// body passed `recordBodySchemas` (zod) from @edca/records, so the casts below never lie.

export interface DecisionBody {
  readonly verdict: 'permit' | 'refuse' | 'escalate';
  readonly decisionKey: string;
  readonly policyDigest: string;
  readonly stateHash: string;
  readonly actionHash: string;
  readonly input: {
    readonly policyDigest: string;
    readonly approvals?: readonly { readonly kid: string; readonly role: string }[];
  } & Record<string, JsonValue | undefined>;
  readonly rule: string;
  readonly reasons: readonly string[];
  readonly expiresAt?: string;
  readonly pendingApproval?: { readonly role?: string; readonly count?: number } & Record<
    string,
    JsonValue | undefined
  >;
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

/** Reads a JSON value as a body view; only called on bodies the records schema accepted. */
export function asBody<T>(body: JsonValue): T {
  return body as unknown as T;
}
