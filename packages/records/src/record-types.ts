import { z } from 'zod';
import { assertIJson, type JsonValue } from './ijson.js';
import { signedActivationSchema } from './activation.js';
import {
  BASE64URL_PATTERN,
  DIGEST_PATTERN,
  KID_PATTERN,
  RFC3339_UTC_PATTERN,
  SCREAMING_CODE_PATTERN,
} from './wire.js';

const digest = z.string().regex(DIGEST_PATTERN, 'expected sha256:<64 hex>');
const b64url = (bytes: number): z.ZodString =>
  z
    .string()
    .regex(BASE64URL_PATTERN, 'expected unpadded base64url')
    .length(Math.ceil((bytes * 4) / 3), `expected base64url of ${bytes} bytes`);
const kid = z.string().regex(KID_PATTERN, 'expected ed25519:<22 base64url>');
const rfc3339 = z.string().regex(RFC3339_UTC_PATTERN, 'expected RFC 3339 UTC');
const json: z.ZodType<JsonValue> = z.custom<JsonValue>((v) => {
  try {
    assertIJson(v);
    return true;
  } catch {
    return false;
  }
}, 'expected an I-JSON value');
const text = z.string().min(1);
const screaming = z.string().regex(SCREAMING_CODE_PATTERN, 'expected a SCREAMING_SNAKE code');

// The body schemas, built once with a strict I-JSON check for JSON-valued fields (public) and
// once without it (internal: the record path checks the whole record for I-JSON first, so the
// fields need not be walked twice).
function bodySchemas(json: z.ZodType<JsonValue>) {
  const keyBody = z.strictObject({ kid, publicKey: b64url(32), role: text });
  return {
    'policy.activated': z.strictObject({
      policyDigest: digest,
      name: text,
      version: text,
      owner: text,
      // Record format 3: the policy owner's signed activation statement (docs/record-format.md).
      activation: signedActivationSchema.optional(),
    }),
    'key.added': keyBody,
    'key.retired': keyBody,
    decision: z.strictObject({
      verdict: z.enum(['permit', 'refuse', 'escalate']),
      decisionKey: digest,
      policyDigest: digest,
      stateHash: digest,
      actionHash: digest,
      input: json,
      rule: z.string(),
      reasons: z.array(z.string()),
      accountable: z.string(),
      principal: json,
      proposer: json,
      expiresAt: rfc3339.optional(),
      pendingApproval: json.optional(),
      // Record format 2 (docs/record-format.md): what a permit holds and which approval it uses.
      hold: z
        .strictObject({
          id: text,
          counters: z.array(
            z.strictObject({
              key: text,
              counter: text,
              amount: z.number().min(0),
              max: z.number(),
              windowEnd: z.int().min(0).nullable(),
            }),
          ),
        })
        .optional(),
      approval: digest.optional(),
    }),
    approval: z.strictObject({
      decision: digest,
      actionHash: digest,
      verdict: z.enum(['approve', 'reject']),
      approver: z.strictObject({ kid, role: text }),
      statement: json,
      sig: b64url(64),
    }),
    attempt: z.strictObject({
      permit: digest,
      actionHash: digest,
      idempotencyKey: text,
      try: z.int().min(1),
      // Record format 2: the kernel instance that ran the attempt (its recovery resolves it).
      instance: text.optional(),
    }),
    outcome: z.strictObject({
      attempt: digest,
      permit: digest,
      status: z.enum(['completed', 'failed', 'unknown', 'compensated']),
      error: z.strictObject({ code: text }).optional(),
      transition: z.strictObject({ machine: text, from: text, to: text }).optional(),
    }),
    checkpoint: z.strictObject({ size: z.int().min(0), root: b64url(32) }),
    // The ledger's fold state after record `through`, pruned at `prunedAt` (docs/record-format.md,
    // "Snapshots"): a restart folds from it instead of from the first record.
    snapshot: z.strictObject({ through: z.int().min(0), prunedAt: rfc3339, state: json }),
    // ---- governed model sessions (@edca/models runSession; kernel recordIntakeRefusal / endSession) ----
    // Model output refused before the kernel: what was refused and a digest of the output, never
    // the output itself (it may carry customer text or an injected instruction).
    'intake.refused': z.strictObject({
      session: text,
      turn: z.int().min(1),
      format: z.enum(['json', 'openai', 'anthropic', 'mcp']),
      code: screaming,
      message: z.string().max(512),
      outputDigest: digest,
      proposer: json,
    }),
    // The end of one governed session: why it ended and what it consumed.
    'session.ended': z.strictObject({
      session: text,
      reason: screaming,
      turns: z.int().min(0),
      tokens: z.strictObject({ input: z.int().min(0), output: z.int().min(0) }),
      cost: z.strictObject({ micros: z.int().min(0), currency: text }).optional(),
      refusals: z.strictObject({ intake: z.int().min(0), kernel: z.int().min(0) }),
      proposer: json,
    }),
    // Record format 3: a decision a candidate map would have made, journaled beside the live one
    // (shadow evaluation). Never a permit: it has no expiry, no hold, and nothing may execute it.
    shadow: z.strictObject({
      decision: digest,
      verdict: z.enum(['permit', 'refuse', 'escalate']),
      decisionKey: digest,
      policyDigest: digest,
      input: json,
      rule: z.string(),
      reasons: z.array(z.string()),
      accountable: z.string(),
    }),
  } as const;
}

/**
 * The zod schema of each record type's `body` (docs/contracts.md, "Record types and bodies").
 * Objects are strict: unknown keys are refused; JSON-valued fields must be strict I-JSON.
 */
export const recordBodySchemas = bodySchemas(json);

/** @internal Same shapes, for bodies already known to be I-JSON. */
export const checkedBodySchemas = bodySchemas(z.custom<JsonValue>(() => true));

/** The closed set of record types. */
export type RecordType = keyof typeof recordBodySchemas;

/** Every record type, in the order of docs/contracts.md. */
export const RECORD_TYPES: readonly RecordType[] = Object.freeze(
  Object.keys(recordBodySchemas) as RecordType[],
);

/** The parsed body of a record of type `T`. */
export type RecordBody<T extends RecordType> = z.infer<(typeof recordBodySchemas)[T]>;

/**
 * Whether `value` names a record type.
 * @example
 * isRecordType('decision'); // true
 */
export function isRecordType(value: unknown): value is RecordType {
  return typeof value === 'string' && Object.hasOwn(recordBodySchemas, value);
}
