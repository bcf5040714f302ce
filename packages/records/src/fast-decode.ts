import { z } from 'zod';
import type { FastPath } from './fast-path.js';
import { isObject, type JsonValue } from './ijson.js';
import { checkedBodySchemas, type RecordType } from './record-types.js';
import {
  BASE64URL_PATTERN,
  DIGEST_PATTERN,
  KID_PATTERN,
  RFC3339_UTC_PATTERN,
  SCREAMING_CODE_PATTERN,
} from './wire.js';

// The record decoder's fast body check (the auditor decodes every journal line). The same rules
// as the internal `checkedBodySchemas` (record-types.ts: zod strict objects, the JSON-valued
// fields already known to be I-JSON), written out so the hot path runs no zod machinery. It only
// ever ACCEPTS: false means "not proven here", and the caller then runs zod, which accepts or
// refuses with the precise path and message, so it can never change a verdict. The pairs at the
// end of this file are held to zod and to the Date round trip by the shared differential harness.

type Obj = Record<string, unknown>;
const isDigest = (v: unknown): boolean => typeof v === 'string' && DIGEST_PATTERN.test(v);
const isText = (v: unknown): boolean => typeof v === 'string' && v.length >= 1;
const isB64 = (v: unknown, length: number): boolean =>
  typeof v === 'string' && v.length === length && BASE64URL_PATTERN.test(v);
const isIntAtLeast = (v: unknown, min: number): boolean =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
const isScreaming = (v: unknown): boolean => typeof v === 'string' && SCREAMING_CODE_PATTERN.test(v);

/** Every own key of `o` is one of `allowed` (zod strict objects refuse unknown keys). */
function onlyKeys(o: Obj, allowed: ReadonlySet<string>): boolean {
  for (const k of Object.keys(o)) if (!allowed.has(k)) return false;
  return true;
}

const has = (o: Obj, k: string): boolean => Object.hasOwn(o, k);

// The key sets come from the schemas themselves, so a field added there is never accepted here
// unchecked: a body holding it fails `onlyKeys` until this file checks it (and the differential
// harness's body arbitrary draws it).
type Shape = { readonly shape: Readonly<Record<string, unknown>> };
const keysOf = (schema: Shape): ReadonlySet<string> => new Set(Object.keys(schema.shape));
const inner = (schema: z.ZodType): Shape => {
  let s: unknown = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodArray)
    s = s instanceof z.ZodArray ? s.element : (s as z.ZodOptional).unwrap();
  if (!(s instanceof z.ZodObject)) throw new Error('invariant: a nested body field is an object schema');
  return s;
};
const S = checkedBodySchemas;
const POLICY_KEYS = keysOf(S['policy.activated']);
const KEY_KEYS = keysOf(S['key.added']);
const DECISION_KEYS = keysOf(S.decision);
const HOLD_KEYS = keysOf(inner(S.decision.shape.hold));
const COUNTER_KEYS = keysOf(inner(S.decision.shape.hold.unwrap().shape.counters));
const APPROVAL_KEYS = keysOf(S.approval);
const APPROVER_KEYS = keysOf(S.approval.shape.approver);
const ATTEMPT_KEYS = keysOf(S.attempt);
const OUTCOME_KEYS = keysOf(S.outcome);
const ERROR_KEYS = keysOf(inner(S.outcome.shape.error));
const TRANSITION_KEYS = keysOf(inner(S.outcome.shape.transition));
const CHECKPOINT_KEYS = keysOf(S.checkpoint);
const INTAKE_REFUSED_KEYS = keysOf(S['intake.refused']);
const SESSION_ENDED_KEYS = keysOf(S['session.ended']);
const TOKENS_KEYS = keysOf(S['session.ended'].shape.tokens);
const COST_KEYS = keysOf(inner(S['session.ended'].shape.cost));
const REFUSALS_KEYS = keysOf(S['session.ended'].shape.refusals);
const SHADOW_KEYS = keysOf(S.shadow);
const SNAPSHOT_KEYS = keysOf(S.snapshot);

function intakeRefusedOk(b: Obj): boolean {
  const f = b['format'];
  if (f !== 'json' && f !== 'openai' && f !== 'anthropic' && f !== 'mcp') return false;
  if (!isText(b['session']) || !isIntAtLeast(b['turn'], 1) || !isScreaming(b['code'])) return false;
  const m = b['message'];
  if (typeof m !== 'string' || m.length > 512) return false;
  if (!isDigest(b['outputDigest']) || !has(b, 'proposer')) return false;
  return onlyKeys(b, INTAKE_REFUSED_KEYS);
}

function sessionEndedOk(b: Obj): boolean {
  if (!isText(b['session']) || !isScreaming(b['reason']) || !isIntAtLeast(b['turns'], 0)) return false;
  const t = b['tokens'];
  if (!isObject(t) || !isIntAtLeast(t['input'], 0) || !isIntAtLeast(t['output'], 0)) return false;
  if (!onlyKeys(t, TOKENS_KEYS)) return false;
  const r = b['refusals'];
  if (!isObject(r) || !isIntAtLeast(r['intake'], 0) || !isIntAtLeast(r['kernel'], 0)) return false;
  if (!onlyKeys(r, REFUSALS_KEYS)) return false;
  if (has(b, 'cost')) {
    const c = b['cost'];
    if (!isObject(c) || !isIntAtLeast(c['micros'], 0) || !isText(c['currency'])) return false;
    if (!onlyKeys(c, COST_KEYS)) return false;
  }
  if (!has(b, 'proposer')) return false;
  return onlyKeys(b, SESSION_ENDED_KEYS);
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A permit's `hold` (record format 2): its id and, per limit, the counter it holds. */
function holdOk(h: unknown): boolean {
  if (!isObject(h) || !isText(h['id']) || !onlyKeys(h, HOLD_KEYS)) return false;
  const counters = h['counters'];
  if (!Array.isArray(counters)) return false;
  for (const c of counters) {
    if (!isObject(c) || !isText(c['key']) || !isText(c['counter'])) return false;
    const amount = c['amount'];
    if (!isFiniteNumber(amount) || amount < 0 || !isFiniteNumber(c['max'])) return false;
    if (c['windowEnd'] !== null && !isIntAtLeast(c['windowEnd'], 0)) return false;
    if (!onlyKeys(c, COUNTER_KEYS)) return false;
  }
  return true;
}

function decisionOk(b: Obj): boolean {
  const v = b['verdict'];
  if (v !== 'permit' && v !== 'refuse' && v !== 'escalate') return false;
  if (!isDigest(b['decisionKey']) || !isDigest(b['policyDigest'])) return false;
  if (!isDigest(b['stateHash']) || !isDigest(b['actionHash'])) return false;
  if (!has(b, 'input') || !has(b, 'principal') || !has(b, 'proposer')) return false;
  if (typeof b['rule'] !== 'string' || typeof b['accountable'] !== 'string') return false;
  const reasons = b['reasons'];
  if (!Array.isArray(reasons)) return false;
  for (const r of reasons) if (typeof r !== 'string') return false;
  if (has(b, 'expiresAt')) {
    const e = b['expiresAt'];
    if (typeof e !== 'string' || !RFC3339_UTC_PATTERN.test(e)) return false;
  }
  if (has(b, 'hold') && !holdOk(b['hold'])) return false;
  if (has(b, 'approval') && !isDigest(b['approval'])) return false;
  return onlyKeys(b, DECISION_KEYS);
}

function shadowOk(b: Obj): boolean {
  const v = b['verdict'];
  if (v !== 'permit' && v !== 'refuse' && v !== 'escalate') return false;
  if (!isDigest(b['decision']) || !isDigest(b['decisionKey']) || !isDigest(b['policyDigest'])) return false;
  if (!has(b, 'input')) return false;
  if (typeof b['rule'] !== 'string' || typeof b['accountable'] !== 'string') return false;
  const reasons = b['reasons'];
  if (!Array.isArray(reasons)) return false;
  for (const r of reasons) if (typeof r !== 'string') return false;
  return onlyKeys(b, SHADOW_KEYS);
}

function approvalOk(b: Obj): boolean {
  const v = b['verdict'];
  if (v !== 'approve' && v !== 'reject') return false;
  if (!isDigest(b['decision']) || !isDigest(b['actionHash'])) return false;
  const a = b['approver'];
  if (!isObject(a) || !(typeof a['kid'] === 'string' && KID_PATTERN.test(a['kid'])) || !isText(a['role']))
    return false;
  if (!onlyKeys(a, APPROVER_KEYS)) return false;
  if (!has(b, 'statement') || !isB64(b['sig'], 86)) return false;
  return onlyKeys(b, APPROVAL_KEYS);
}

function outcomeOk(b: Obj): boolean {
  const s = b['status'];
  if (s !== 'completed' && s !== 'failed' && s !== 'unknown' && s !== 'compensated') return false;
  if (!isDigest(b['attempt']) || !isDigest(b['permit'])) return false;
  if (has(b, 'error')) {
    const e = b['error'];
    if (!isObject(e) || !isText(e['code']) || !onlyKeys(e, ERROR_KEYS)) return false;
  }
  if (has(b, 'transition')) {
    const t = b['transition'];
    if (!isObject(t) || !isText(t['machine']) || !isText(t['from']) || !isText(t['to'])) return false;
    if (!onlyKeys(t, TRANSITION_KEYS)) return false;
  }
  return onlyKeys(b, OUTCOME_KEYS);
}

/**
 * Whether `body` passes `checkedBodySchemas[type]` (true only when zod would accept it; false
 * means "run zod", which then refuses with the precise path and message).
 */
export function bodyAcceptedFast(type: RecordType, body: JsonValue): boolean {
  if (!isObject(body)) return false;
  const b = body;
  switch (type) {
    case 'decision':
      return decisionOk(b);
    case 'attempt':
      return (
        isDigest(b['permit']) &&
        isDigest(b['actionHash']) &&
        isText(b['idempotencyKey']) &&
        isIntAtLeast(b['try'], 1) &&
        (!has(b, 'instance') || isText(b['instance'])) &&
        onlyKeys(b, ATTEMPT_KEYS)
      );
    case 'outcome':
      return outcomeOk(b);
    case 'approval':
      return approvalOk(b);
    case 'checkpoint':
      return isIntAtLeast(b['size'], 0) && isB64(b['root'], 43) && onlyKeys(b, CHECKPOINT_KEYS);
    case 'snapshot':
      return (
        isIntAtLeast(b['through'], 0) &&
        typeof b['prunedAt'] === 'string' &&
        RFC3339_UTC_PATTERN.test(b['prunedAt']) &&
        has(b, 'state') &&
        onlyKeys(b, SNAPSHOT_KEYS)
      );
    case 'policy.activated':
      return (
        isDigest(b['policyDigest']) &&
        isText(b['name']) &&
        isText(b['version']) &&
        isText(b['owner']) &&
        onlyKeys(b, POLICY_KEYS)
      );
    case 'key.added':
    case 'key.retired':
      return (
        typeof b['kid'] === 'string' &&
        KID_PATTERN.test(b['kid']) &&
        isB64(b['publicKey'], 43) &&
        isText(b['role']) &&
        onlyKeys(b, KEY_KEYS)
      );
    case 'intake.refused':
      return intakeRefusedOk(b);
    case 'session.ended':
      return sessionEndedOk(b);
    case 'shadow':
      return shadowOk(b);
    default:
      return false;
  }
}

// ---- the record's `at` ------------------------------------------------------------------------

const twoDigits = (s: string, i: number): number => (s.charCodeAt(i) - 48) * 10 + s.charCodeAt(i + 1) - 48;

/**
 * Whether `at`, already matching `YYYY-MM-DDTHH:MM:SS.sssZ`, names a real instant: month 1–12,
 * a day of that month (proleptic Gregorian leap years, as ECMAScript dates), hour ≤ 23, minute and
 * second ≤ 59. The same verdict as `new Date(Date.parse(at)).toISOString() === at`, without
 * building a Date (property-tested against it); the caller still runs that round trip when this
 * says false.
 */
export function isValidRecordInstant(at: string): boolean {
  const year = twoDigits(at, 0) * 100 + twoDigits(at, 2);
  const month = twoDigits(at, 5);
  const day = twoDigits(at, 8);
  if (month < 1 || month > 12 || day < 1) return false;
  if (twoDigits(at, 11) > 23 || twoDigits(at, 14) > 59 || twoDigits(at, 17) > 59) return false;
  if (month === 2) {
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    return day <= (leap ? 29 : 28);
  }
  return day <= (month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31);
}

/**
 * Whether a body passes its schema. Reference: zod (`checkedBodySchemas`). Fast: the hand-written
 * check above, exact on every body (false there still runs zod, for its path and message).
 */
export const bodyCheckPath: FastPath<[type: RecordType, body: JsonValue], boolean> = {
  reference: (type, body) => checkedBodySchemas[type].safeParse(body).success,
  fast: bodyAcceptedFast,
};

/**
 * Whether a text of the `at` shape names a real instant. Reference: the Date round trip. Fast:
 * the calendar check above.
 */
export const recordInstantPath: FastPath<[at: string], boolean> = {
  reference: (at) => {
    const ms = Date.parse(at);
    return !Number.isNaN(ms) && new Date(ms).toISOString() === at;
  },
  fast: isValidRecordInstant,
};
