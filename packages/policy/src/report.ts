/**
 * The report of one `edca test` run: what `--json` prints and what a policy owner's activation
 * binds (`tests` = `digestValue(report)`). It holds no timings, no absolute paths and no key ids,
 * so the same map and suites give the same report, and the same digest, on every machine.
 */
import { digestValue, isDigest, type Digest } from '@edca/records';
import { z } from 'zod';

/** The format marker of a report. */
export const REPORT_FORMAT = 'edca-test-report/v1';

const digest = z.string().refine(isDigest, 'expected sha256:<64 lower-case hex>');
const outcome = z.strictObject({
  verdict: z.enum(['permit', 'refuse', 'escalate']),
  rule: z.string().optional(),
  reasons: z.array(z.string()).optional(),
});

/** What coverage counts: one part of a map a case can reach. */
export const COVERAGE_KINDS = [
  'facet-rule',
  'facet-band',
  'facet-default',
  'machine-rule',
  'machine-default',
  'intent',
  'transition',
  'guard',
  'allowed_when',
  'escalate_when',
  'approval',
] as const;

/** One part of a map (its id is the map path, plus `=branch` for a condition's outcome). */
export const coverageItemSchema = z.strictObject({
  kind: z.enum(COVERAGE_KINDS),
  id: z.string(),
});

/** The zod schema of a test report. */
export const testReportSchema = z.strictObject({
  report: z.literal(REPORT_FORMAT),
  map: z.strictObject({ name: z.string(), version: z.string(), digest }),
  suites: z.array(z.strictObject({ file: z.string(), digest, cases: z.int().min(0) })),
  cases: z.array(
    z.strictObject({
      suite: z.string(),
      name: z.string(),
      line: z.int().min(1),
      col: z.int().min(1),
      passed: z.boolean(),
      expected: outcome,
      actual: z.strictObject({
        verdict: z.enum(['permit', 'refuse', 'escalate']),
        rule: z.string(),
        reasons: z.array(z.string()),
      }),
      /** Why the case could not be decided as written (approvals refused, refs not issued …). */
      notes: z.array(z.string()),
    }),
  ),
  summary: z.strictObject({ cases: z.int().min(0), passed: z.int().min(0), failed: z.int().min(0) }),
  coverage: z.strictObject({
    items: z.int().min(0),
    reached: z.int().min(0),
    /** Every part of the map no case reached, in document order. */
    unreached: z.array(coverageItemSchema),
  }),
});

/** A test report. */
export type TestReport = z.infer<typeof testReportSchema>;
/** One case of a report. */
export type TestCaseResult = TestReport['cases'][number];
/** One part of a map coverage counts. */
export type CoverageItem = z.infer<typeof coverageItemSchema>;

/**
 * The digest a policy activation binds: `digestValue` (RFC 8785, SHA-256) of the report.
 * @throws RecordsError IJSON_* for a report that is not I-JSON
 * @example reportDigest(report); // 'sha256:…'
 */
export function reportDigest(report: TestReport): Digest {
  return digestValue(testReportSchema.parse(report));
}
