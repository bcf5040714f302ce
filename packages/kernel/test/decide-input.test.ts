import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalize, digestValue, verifyRecord, type JsonValue, type SignedRecord } from '@edca/records';
import { actionHashOf } from '@edca/kernel';
import { agent, makeHarness, type Harness } from './support/harness.js';

// decide copies the caller's params and principal attributes into a deeply frozen decision input whose
// canonical text is remembered (records' toFrozenJson), so the key, the action hash and the record
// serialize it once. The reference is the slow path on the caller's own objects: digestValue of the
// input built from them, and actionHashOf of the caller's proposal.
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const jsonLeaf = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);
const jsonValue: fc.Arbitrary<JsonValue> = fc.letrec<{ v: JsonValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    jsonLeaf,
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie('v'), { maxKeys: 3, noNullPrototype: true }),
  ),
})).v;
const extraAttributes = fc.dictionary(fc.string({ maxLength: 6 }), jsonValue, {
  maxKeys: 4,
  noNullPrototype: true,
});

describe('decide (the decision input)', () => {
  describe('when params and attributes are arbitrary JSON data', () => {
    it('gives the key and action hash of the caller`s own objects, and records exactly them', async () => {
      h = await makeHarness();
      const harness = h;
      const session = harness.session;
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('hold_payment', 'refund_payment'),
          fc.integer({ min: 1, max: 900 }),
          extraAttributes,
          async (intent, amount, extra) => {
            fc.pre(!Object.hasOwn(extra, '__proto__') && !Object.hasOwn(extra, 'tier'));
            const params: Record<string, JsonValue> =
              intent === 'refund_payment'
                ? { payment: harness.refFor('P-1'), amount }
                : { payment: harness.refFor('P-1') };
            const attributes: Record<string, JsonValue> = { ...extra, tier: 'agent' };
            const principal = { id: 'agent-7', attributes };
            const d = await harness.kernel.decide(
              { intent, params },
              { session, principal, proposer: agent.proposer },
            );
            expect(d.record).not.toBeNull();
            const records: SignedRecord[] = [];
            for await (const r of harness.journal.read()) records.push(r.record);
            const rec = records.filter((r) => r.type === 'decision').at(-1)!;
            const input = (rec.body as { input: Record<string, JsonValue> }).input;
            // The slow path on the caller's objects, with the state and counters the kernel read.
            const expected = {
              policyDigest: harness.map.digest,
              state: input['state']!,
              proposal: { intent, params },
              principal: { id: 'agent-7', attributes },
              approvals: [],
              counters: input['counters']!,
            };
            expect(d.decisionKey).toBe(digestValue(expected));
            expect(d.actionHash).toBe(actionHashOf({ intent, params }));
            // Compared as RFC 8785 text: the record holds the canonical form, where -0 is written 0.
            expect(canonicalize(input)).toBe(canonicalize(expected));
            // The caller's objects are neither frozen nor tied to the returned record.
            expect(Object.isFrozen(params) || Object.isFrozen(attributes)).toBe(false);
            if (d.permit) {
              params['amount'] = 12345;
              attributes['tier'] = 'changed';
              verifyRecord(d.permit.record, harness.signer.publicKey);
              expect(digestValue((d.permit.record.body as { input: unknown }).input)).toBe(d.decisionKey);
            }
          },
        ),
        { numRuns: 60 },
      );
    });
  });

  describe('when an attribute is not plain JSON data', () => {
    it('refuses with SCHEMA_VIOLATION as before (the copy steps aside, the strict check refuses)', async () => {
      h = await makeHarness();
      // eslint-disable-next-line no-sparse-arrays -- a hole is one of the cases
      for (const bad of [new Date(0), { toJSON: () => 1 }, [1, , 2], { a: undefined }]) {
        const d = await h.kernel.decide(
          { intent: 'hold_payment', params: { payment: h.refFor('P-1') } },
          {
            ...agent,
            session: h.session,
            principal: { id: 'p', attributes: { tier: 'agent', bad } as never },
          },
        );
        expect(d.reasons).toEqual(['SCHEMA_VIOLATION']);
      }
    });
  });
});
