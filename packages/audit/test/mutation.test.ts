// Signed but malformed content is a finding, never a crash: record bodies are mutated
// structurally (a member replaced by any JSON value, or removed), re-signed with the kernel key
// with every later record re-chained, and the verifier must answer with a report. Where the
// mutation touches what ties a record to the rest of the journal, the report must not be intact.
import { decodeRecord, recordBodySchemas, type JsonValue, type SignedRecord } from '@edca/records';
import { safeVerifyJournal } from '@edca/audit';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateJournal, type GeneratedJournal } from '../../../test/helpers/journal-generator.js';
import { rewriteFrom, toText } from '../../../test/helpers/tamper.js';

type Path = readonly (string | number)[];

/** Every path to a member or element of a JSON value (not the root itself). */
function pathsOf(v: JsonValue, at: Path = []): Path[] {
  const out: Path[] = [];
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push([...at, i], ...pathsOf(x, [...at, i]));
    });
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) out.push([...at, k], ...pathsOf(x, [...at, k]));
  }
  return out;
}

/** A copy of `v` with the member at `path` replaced by `value`, or removed when `value` is undefined. */
function setAt(v: JsonValue, path: Path, value: JsonValue | undefined): JsonValue {
  const [head, ...rest] = path;
  if (head === undefined) return value ?? null;
  if (Array.isArray(v)) {
    const copy = [...v];
    if (rest.length === 0 && value === undefined) copy.splice(head as number, 1);
    else copy[head as number] = setAt(copy[head as number]!, rest, value);
    return copy;
  }
  const obj = { ...(v as { [k: string]: JsonValue }) };
  if (rest.length === 0 && value === undefined) delete obj[head as string];
  else obj[head as string] = setAt(obj[head as string]!, rest, value);
  return obj;
}

// Members whose change a kernel could not have made without breaking a link the verifier checks.
const BINDING: Readonly<Record<string, readonly string[]>> = {
  decision: ['input', 'decisionKey', 'policyDigest'],
  approval: ['decision', 'actionHash', 'statement', 'sig', 'approver'],
  attempt: ['permit', 'actionHash'],
  outcome: ['attempt', 'permit'],
  'policy.activated': ['policyDigest'],
};

// Shapes that break a reader's assumptions come first: null, empty containers, wrong scalars.
const json = fc.oneof(
  fc.constantFrom<JsonValue>(null, {}, [], '', 0, true, { kid: 'x' }),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>,
);

let j: GeneratedJournal;
let records: SignedRecord[];
beforeAll(async () => {
  j = await generateJournal({ records: 60, checkpointEvery: 20, seed: 11 });
  records = j.lines.map((l) => decodeRecord(l));
});

describe('safeVerifyJournal on re-signed, structurally mutated bodies', () => {
  it('always returns a report, and never says intact when a binding member changed', async () => {
    const mutable = records.filter((r) => r.type !== 'checkpoint');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...mutable),
        fc.nat(),
        fc.boolean(),
        fc.option(json, { nil: undefined }),
        async (rec, pick, shallow, value) => {
          // Half the time a member of the body or of its direct children, else any depth.
          const paths = pathsOf(rec.body).filter((p) => !shallow || p.length <= 2);
          fc.pre(paths.length > 0);
          const path = paths[pick % paths.length]!;
          const body = setAt(rec.body, path, value);
          // Bodies the record schema refuses cannot be sealed; their lines are covered elsewhere.
          fc.pre(recordBodySchemas[rec.type].safeParse(body).success);
          fc.pre(JSON.stringify(body) !== JSON.stringify(rec.body));
          const lines = await rewriteFrom(j.lines, rec.seq, j.keys.kernel, () => ({ body }), j.keys.approver);
          const result = await safeVerifyJournal(toText(lines), { trust: j.keys.trust });
          if ((BINDING[rec.type] ?? []).includes(String(path[0]))) {
            expect(result.ok, `${rec.type} seq ${rec.seq} ${path.join('.')} → ${JSON.stringify(value)}`).toBe(
              false,
            );
          }
        },
      ),
      { numRuns: 100, seed: 20261205 },
    );
  });

  it('answers every member (to depth 2) of one record of each type set to a breaking value or removed', async () => {
    const breaking: (JsonValue | undefined)[] = [undefined, null, {}, [], '', 0, true, { kid: 'x' }];
    const samples = [
      ...new Map(records.filter((r) => r.type !== 'checkpoint').map((r) => [r.type, r])).values(),
    ];
    let tried = 0;
    for (const rec of samples) {
      for (const path of pathsOf(rec.body).filter((p) => p.length <= 2)) {
        for (const value of breaking) {
          const body = setAt(rec.body, path, value);
          if (!recordBodySchemas[rec.type].safeParse(body).success) continue;
          if (JSON.stringify(body) === JSON.stringify(rec.body)) continue;
          const lines = await rewriteFrom(j.lines, rec.seq, j.keys.kernel, () => ({ body }), j.keys.approver);
          const result = await safeVerifyJournal(toText(lines), { trust: j.keys.trust });
          tried++;
          if ((BINDING[rec.type] ?? []).includes(String(path[0])))
            expect(result.ok, `${rec.type} ${path.join('.')} → ${JSON.stringify(value)}`).toBe(false);
        }
      }
    }
    expect(tried).toBeGreaterThan(50);
  });

  it('reports a decision input of the wrong shape as DECISION_INCONSISTENT', async () => {
    const decision = records.find((r) => r.type === 'decision')!;
    const base = decision.body as { [k: string]: JsonValue };
    const inputs: JsonValue[] = [
      null,
      { ...(base['input'] as { [k: string]: JsonValue }), approvals: { kid: 'x' } },
    ];
    for (const input of inputs) {
      const lines = await rewriteFrom(
        j.lines,
        decision.seq,
        j.keys.kernel,
        () => ({ body: { ...base, input } }),
        j.keys.approver,
      );
      const result = await safeVerifyJournal(toText(lines), { trust: j.keys.trust });
      expect(result.ok).toBe(false);
      if (!result.ok)
        expect(result.error.report!.findings).toContainEqual(
          expect.objectContaining({ code: 'DECISION_INCONSISTENT', seq: decision.seq }),
        );
    }
  });
});
