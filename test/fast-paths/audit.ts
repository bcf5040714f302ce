import fc from 'fast-check';
import { canonicalize, type JsonValue } from '@edca/records';
import { auditFastPaths } from '../../packages/audit/src/internal/fast-paths.js';
import { firstObjectMember } from '../../packages/audit/src/internal/member-bytes.js';
import { defineFastPath } from './harness.js';

const isIJson = (v: unknown): boolean => {
  try {
    canonicalize(v);
    return true;
  } catch {
    return false;
  }
};
const json = (fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>).filter(isIJson);
const text = fc.string({ unit: 'binary', maxLength: 10 }).filter(isIJson);

/**
 * The canonical line of a decision-like record: the members a decision has before `input`
 * (strings, and a hold whose members are any strings), then `input`, then more.
 */
const decisionLine = (input: fc.Arbitrary<JsonValue>): fc.Arbitrary<[Buffer, JsonValue]> =>
  fc.tuple(text, text, fc.option(text, { nil: undefined }), input).map(([at, accountable, holdKey, inp]) => {
    const hold = holdKey === undefined ? {} : { hold: { counters: [{ key: holdKey }], id: holdKey } };
    const line = canonicalize({ at, body: { accountable, ...hold, input: inp, zz: 1 }, kid: 'k' });
    return [Buffer.from(line), inp];
  });
const objectInput = fc.dictionary(fc.string(), json, { maxKeys: 5 });

defineFastPath({
  name: 'audit.decisionInputBytes',
  pair: auditFastPaths.decisionInputBytes,
  arbitrary: decisionLine(fc.oneof(objectInput, json)),
  answers: decisionLine(objectInput),
  numRuns: 1000,
});

const ref = fc.stringMatching(/^[A-Za-z0-9_-]{22}$/).map((s) => `ref_${s}`);
const paramValue: fc.Arbitrary<JsonValue> = fc.oneof(
  ref,
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>,
  fc.array(ref, { maxLength: 3 }),
);
const params = fc.dictionary(fc.string({ maxLength: 8 }), paramValue, { maxKeys: 5 }).filter(isIJson);

/**
 * A decision input's canonical bytes as the verifier slices them, and its parsed proposal; the
 * input may hold a decoy `proposal` nested before the real one, and the proposal other members.
 */
const recorded = (
  extra: boolean,
): fc.Arbitrary<[Buffer | undefined, { intent: string; params: Record<string, JsonValue> }]> =>
  fc
    .tuple(
      text,
      params,
      params,
      extra ? fc.option(json, { nil: undefined }) : fc.constant(undefined),
      fc.boolean(),
    )
    .map(([intent, p, decoy, more, sliced]) => {
      const proposal = more === undefined ? { intent, params: p } : { intent, params: p, zzz: more };
      const input = {
        approvals: [],
        principal: { attributes: { proposal: { intent: 'decoy', params: decoy } }, id: 'p' },
        proposal,
        state: { facets: {}, machines: {} },
      };
      const line = Buffer.from(canonicalize({ at: 'now', body: { accountable: 'a', input }, kid: 'k' }));
      const bytes = extra && !sliced ? undefined : firstObjectMember(line, Buffer.from('"input":'));
      return [bytes, { intent, params: p }];
    });

defineFastPath({
  name: 'audit.actionHash',
  pair: auditFastPaths.actionHash,
  arbitrary: recorded(true),
  answers: recorded(false),
  numRuns: 1000,
});
