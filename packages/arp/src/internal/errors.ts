/** Every code of {@link ArpError}: misuse of the API and maps the layer refuses to serve. */
export const ARP_ERROR_CODES = [
  'ROUTE_MISSING',
  'HANDLER_MISSING',
  'ROUTE_INVALID',
  'REF_KEY_INVALID',
  'SESSION_INVALID',
  'LEAK_IN_MAP',
  'PATTERN_INVALID',
] as const;

/**
 * Codes of {@link ArpError}. A refused proposal or view is never an `ArpError`; it is an
 * {@link ArpRefusal} value.
 */
export type ArpErrorCode = (typeof ARP_ERROR_CODES)[number];

/** The one error class of `@edca/arp`: thrown at startup or on misuse, never for untrusted input. */
export class ArpError extends Error {
  readonly code: ArpErrorCode;
  constructor(code: ArpErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'ArpError';
    this.code = code;
  }
}

/** Every stable code of an {@link ArpRefusal}; each is documented in `docs/reason-codes.md`. */
export const ARP_REFUSAL_CODES = [
  'INTAKE_MALFORMED',
  'PAYLOAD_TOO_LARGE',
  'NO_PROPOSAL',
  'MULTIPLE_PROPOSALS',
  'UNKNOWN_INTENT',
  'SCHEMA_VIOLATION',
  'REF_NOT_ISSUED',
  'REF_KIND_MISMATCH',
  'PARAM_NOT_REPRESENTABLE',
  'STATE_UNDERIVABLE',
  'DISPLAY_TOO_LARGE',
  'DISPLAY_NOT_IJSON',
  'RESULT_INVALID',
  'LEAK_DETECTED',
] as const;

/** A stable code of an {@link ArpRefusal}. */
export type ArpRefusalCode = (typeof ARP_REFUSAL_CODES)[number];

/** One schema problem, by path; never echoes the offending value. */
export interface ArpIssue {
  readonly path: string;
  readonly problem: string;
}

/**
 * A refusal value: what the layer returns instead of throwing for untrusted input.
 * The message is safe to show to the model: it names no private field, id or value.
 */
export interface ArpRefusal {
  readonly ok: false;
  readonly code: ArpRefusalCode;
  readonly message: string;
  readonly issues?: readonly ArpIssue[];
}

/** Builds a refusal value. */
export function refuse(code: ArpRefusalCode, message: string, issues?: readonly ArpIssue[]): ArpRefusal {
  return issues === undefined || issues.length === 0
    ? { ok: false, code, message }
    : { ok: false, code, message, issues };
}
