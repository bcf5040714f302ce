import fc from 'fast-check';
import type { JsonValue } from '@edca/records';
import { RECORD_TYPES, type RecordType } from '../../packages/records/src/record-types.js';
import { ijsonValue } from '../../packages/records/test/arbitraries.js';

// Record bodies for the body check's differential: drawn field by field from valid values, near
// misses (wrong case, length, type, range) and absence, plus unknown keys and non-object bodies.

type Field = { valid: fc.Arbitrary<JsonValue>; invalid: fc.Arbitrary<JsonValue>; optional?: boolean };
type Spec = Record<string, Field>;

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const digest: Field = {
  valid: hex64.map((h) => `sha256:${h}`),
  invalid: fc.oneof(
    hex64.map((h) => `sha256:${h.toUpperCase()}0`.slice(0, 71)),
    hex64.map((h) => `sha256:${h.slice(1)}`),
    hex64.map((h) => `sha256:${h}\n`),
    hex64.map((h) => `SHA256:${h}`),
    ijsonValue,
  ),
};
const b64 = (n: number): Field => ({
  valid: fc.stringMatching(new RegExp(`^[A-Za-z0-9_-]{${n}}$`)),
  invalid: fc.oneof(
    fc.stringMatching(new RegExp(`^[A-Za-z0-9_-]{${n - 1}}$`)),
    fc.stringMatching(new RegExp(`^[A-Za-z0-9_-]{${n + 1}}$`)),
    fc.stringMatching(new RegExp(`^[A-Za-z0-9_-]{${n - 1}}[=+/ ]$`)),
    ijsonValue,
  ),
});
const kid: Field = {
  valid: fc.stringMatching(/^ed25519:[A-Za-z0-9_-]{22}$/),
  invalid: fc.oneof(
    fc.stringMatching(/^ed25519:[A-Za-z0-9_-]{21,23}$/),
    fc.stringMatching(/^ED25519:[A-Za-z0-9_-]{22}$/),
    ijsonValue,
  ),
};
const text: Field = { valid: fc.string({ minLength: 1 }), invalid: fc.oneof(fc.constant(''), ijsonValue) };
const anyString: Field = { valid: fc.string(), invalid: ijsonValue };
const json: Field = { valid: ijsonValue, invalid: ijsonValue };
const screaming: Field = {
  valid: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,63}$/),
  invalid: fc.oneof(
    fc.stringMatching(/^[a-z][A-Z0-9_]{0,8}$/),
    fc.stringMatching(/^[A-Z][A-Z0-9_]{64}$/),
    fc.constantFrom('', 'NO-PROPOSAL', '_X', 'X\n'),
    ijsonValue,
  ),
};
const shortString: Field = {
  valid: fc.string({ maxLength: 512 }),
  invalid: fc.oneof(fc.string({ minLength: 513, maxLength: 600 }), ijsonValue),
};
const oneOf = (...values: string[]): Field => ({
  valid: fc.constantFrom(...values),
  invalid: fc.oneof(fc.constantFrom(...values.map((v) => v.toUpperCase()), `${values[0]} `, ''), ijsonValue),
});
const intMin = (min: number): Field => ({
  valid: fc.integer({ min, max: Number.MAX_SAFE_INTEGER }),
  invalid: fc.oneof(
    fc.constantFrom(min - 1, min + 0.5, 2 ** 53, -(2 ** 53), String(min)),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    ijsonValue,
  ),
});
const rfc3339: Field = {
  valid: fc.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/),
  invalid: fc.oneof(
    fc.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{10})?Z?$/),
    fc.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
    ijsonValue,
  ),
  optional: true,
};
const opt = (f: Field): Field => ({ ...f, optional: true });
const arrayOfStrings: Field = {
  valid: fc.array(fc.string(), { maxLength: 4 }),
  invalid: fc.oneof(fc.array(ijsonValue, { minLength: 1, maxLength: 3 }), ijsonValue),
};
const nested = (spec: Spec): Field => ({
  valid: bodyOf(spec, 0),
  invalid: fc.oneof(bodyOf(spec, 0.3), ijsonValue),
});
const arrayOf = (f: Field): Field => ({
  valid: fc.array(f.valid, { maxLength: 3 }),
  invalid: fc.oneof(
    fc.tuple(f.valid, f.invalid).map(([a, b]) => [a, b]),
    ijsonValue,
  ),
});
const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const number: Field = {
  valid: finite,
  invalid: fc.oneof(
    fc.constant('1'),
    ijsonValue.filter((v) => typeof v !== 'number'),
  ),
};
const numberMin0: Field = {
  valid: fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }),
  invalid: fc.oneof(fc.constantFrom(-1, -0.5, '0'), ijsonValue),
};
const nullable = (f: Field): Field => ({ valid: fc.oneof(fc.constant(null), f.valid), invalid: f.invalid });
// Record format 2: what a permit holds (docs/record-format.md).
const hold: Field = opt(
  nested({
    id: text,
    counters: arrayOf(
      nested({ key: text, counter: text, amount: numberMin0, max: number, windowEnd: nullable(intMin(0)) }),
    ),
  }),
);

const keyBody: Spec = { kid, publicKey: b64(43), role: text };
const specs: Record<RecordType, Spec> = {
  'policy.activated': { policyDigest: digest, name: text, version: text, owner: text },
  'key.added': keyBody,
  'key.retired': keyBody,
  decision: {
    verdict: oneOf('permit', 'refuse', 'escalate'),
    decisionKey: digest,
    policyDigest: digest,
    stateHash: digest,
    actionHash: digest,
    input: json,
    rule: anyString,
    reasons: arrayOfStrings,
    accountable: anyString,
    principal: json,
    proposer: json,
    expiresAt: rfc3339,
    pendingApproval: opt(json),
    hold,
    approval: opt(digest),
  },
  approval: {
    decision: digest,
    actionHash: digest,
    verdict: oneOf('approve', 'reject'),
    approver: nested({ kid, role: text }),
    statement: json,
    sig: b64(86),
  },
  attempt: { permit: digest, actionHash: digest, idempotencyKey: text, try: intMin(1), instance: opt(text) },
  outcome: {
    attempt: digest,
    permit: digest,
    status: oneOf('completed', 'failed', 'unknown', 'compensated'),
    error: opt(nested({ code: text })),
    transition: opt(nested({ machine: text, from: text, to: text })),
  },
  checkpoint: { size: intMin(0), root: b64(43) },
  snapshot: { through: intMin(0), prunedAt: rfc3339, state: json },
  'intake.refused': {
    session: text,
    turn: intMin(1),
    format: oneOf('json', 'openai', 'anthropic', 'mcp'),
    code: screaming,
    message: shortString,
    outputDigest: digest,
    proposer: json,
  },
  'session.ended': {
    session: text,
    reason: screaming,
    turns: intMin(0),
    tokens: nested({ input: intMin(0), output: intMin(0) }),
    cost: opt(nested({ micros: intMin(0), currency: text })),
    refusals: nested({ intake: intMin(0), kernel: intMin(0) }),
    proposer: json,
  },
  shadow: {
    decision: digest,
    verdict: oneOf('permit', 'refuse', 'escalate'),
    decisionKey: digest,
    policyDigest: digest,
    input: json,
    rule: anyString,
    reasons: arrayOfStrings,
    accountable: anyString,
  },
};

/** A body: each field valid, a near miss, or absent (`miss` is the chance of a non-valid draw). */
function bodyOf(spec: Spec, miss: number): fc.Arbitrary<JsonValue> {
  const entries = Object.entries(spec).map(([name, f]) =>
    fc
      // noBias: fast-check otherwise favours small numbers, i.e. near misses in almost every body.
      .tuple(fc.noBias(fc.integer({ min: 0, max: 999 })), f.valid, f.invalid)
      .map(([n, v, bad]): [string, JsonValue | undefined] => {
        const r = n / 1000;
        if (r < miss / 2) return [name, bad];
        if (r < miss) return [name, undefined];
        if (f.optional === true && r > 0.8) return [name, undefined];
        return [name, v];
      }),
  );
  // An unknown key in about one body of ten.
  const extra = fc.oneof(
    { weight: 9, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), ijsonValue) },
  );
  return fc.tuple(fc.tuple(...entries), extra).map(([fields, more]) => {
    const o: Record<string, JsonValue> = {};
    for (const [k, v] of fields) if (v !== undefined) o[k] = v;
    if (more !== null)
      Object.defineProperty(o, more[0], {
        value: more[1],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return o;
  });
}

/** A body of `type`: mostly valid, some near misses, some not objects at all. */
export const body = (type: RecordType): fc.Arbitrary<JsonValue> =>
  fc.oneof({ weight: 12, arbitrary: bodyOf(specs[type], 0.08) }, { weight: 1, arbitrary: ijsonValue });

/** A type and a body drawn for it. */
export const typedBody: fc.Arbitrary<[RecordType, JsonValue]> = fc
  .constantFrom(...RECORD_TYPES)
  .chain((type) => body(type).map((b): [RecordType, JsonValue] => [type, b]));

/** A type and a valid body of it (what the fast check must accept on its own). */
export const validTypedBody: fc.Arbitrary<[RecordType, JsonValue]> = fc
  .constantFrom(...RECORD_TYPES)
  .chain((type) => bodyOf(specs[type], 0).map((b): [RecordType, JsonValue] => [type, b]));
