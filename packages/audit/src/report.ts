import type { Finding } from './findings.js';

/** What the verifier checked: everything, or only the hash chain, Merkle roots and checkpoint signatures. */
export type VerifyMode = 'full' | 'checkpoints-only';

/** An action the journal started but did not finish; not a finding, but listed for the auditor. */
export interface UnfinishedAction {
  readonly kind: 'attempt-without-outcome' | 'outcome-unknown' | 'escalation-unresolved';
  /** The `seq` of the attempt or escalation record. */
  readonly seq: number;
  readonly actionHash: string;
}

/** A signing key seen in the journal and how many records (or approvals) it signed. */
export interface KeyUse {
  readonly kid: string;
  readonly role: string;
  readonly name?: string;
  readonly signatures: number;
}

/** A `policy.activated` record and the decisions it governed (until the next activation of its digest). */
export interface PolicyActivationUse {
  /** The seq of the `policy.activated` record. */
  readonly seq: number;
  readonly map: string;
  readonly policyDigest: string;
  /** The signed revision (record format 3); null for an activation without an owner's statement. */
  readonly revision: number | null;
  /** The policy owner's kid that signed it; null without a statement. */
  readonly owner: string | null;
  /** Decisions under this digest while this activation was the latest of it, and their first and last seq. */
  readonly decisions: number;
  readonly firstDecision: number | null;
  readonly lastDecision: number | null;
}

/** The result of verifying one journal. `ok` is true exactly when `findings` is empty. */
export interface AuditReport {
  readonly ok: boolean;
  readonly mode: VerifyMode;
  readonly stream: string | null;
  /** Number of lines (records) read. */
  readonly records: number;
  /** Records per type (full mode only; in checkpoints-only mode only `checkpoint` is counted). */
  readonly byType: Readonly<Record<string, number>>;
  /** Decisions per verdict (`permit`, `refuse`, `escalate`). */
  readonly byVerdict: Readonly<Record<string, number>>;
  /** Outcomes per status. */
  readonly byOutcome: Readonly<Record<string, number>>;
  /** Governed model sessions (full mode): ends per reason, and model outputs refused at intake per code. */
  readonly sessions: {
    readonly ended: number;
    readonly byEndReason: Readonly<Record<string, number>>;
    readonly intakeRefusals: Readonly<Record<string, number>>;
  };
  /** `at` of the first and last record. */
  readonly timeRange: { readonly first: string; readonly last: string } | null;
  readonly keysUsed: readonly KeyUse[];
  /** Signatures checked (records and approval statements). */
  readonly signaturesChecked: number;
  readonly checkpoints: {
    readonly count: number;
    /** `seq` of the last checkpoint, and the tree size and root it signs. */
    readonly last: { readonly seq: number; readonly size: number; readonly root: string } | null;
    /** Records after the last checkpoint: only the chain vouches for them. */
    readonly uncovered: number;
  };
  /** Replay totals when state maps were given. */
  readonly replay: {
    readonly decisions: number;
    readonly replayed: number;
    readonly mismatches: number;
  } | null;
  /** Full mode: every policy activation in journal order, with the decisions it governed. */
  readonly activations?: readonly PolicyActivationUse[];
  /** Full mode: `shadow` records (a candidate map's decisions; never permits). */
  readonly shadows?: number;
  /** Every finding, sorted by line. */
  readonly findings: readonly Finding[];
  readonly unfinished: readonly UnfinishedAction[];
  /** With witnessed checkpoints: the newest size the quorum of witnesses cosigned for this stream. */
  readonly witnessed?: {
    readonly size: number;
    readonly witnesses: readonly string[];
    /** Cosignatures that did not verify against a trusted witness key (ignored). */
    readonly rejected: number;
  } | null;
}
