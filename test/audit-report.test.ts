// The auditor's HTML report (`edca audit verify --html`), looked at in a real browser: Debian's
// Chromium driven by playwright-core. The demo's journal is verified with its maps, the report is
// opened from disk, and what an auditor sees is asserted; a screenshot is kept under .tmp/artifacts.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '@edca/cli';
import { launchChromium } from './helpers/browser.js';
import { captureIo } from './helpers/cli-io.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const artifacts = join(root, '.tmp', 'artifacts');

interface Line {
  seq: number;
  type: string;
  body: { verdict?: string; input?: { proposal?: { intent?: string } } };
}

let dir: string;
let browser: Browser;
let page: Page;
let journal: Line[];
const requests: string[] = [];

/** The given attributes of every element a locator matches, in document order. */
async function attributes(locator: Locator, names: readonly string[]): Promise<(string | null)[][]> {
  const out: (string | null)[][] = [];
  for (const el of await locator.all()) out.push(await Promise.all(names.map((n) => el.getAttribute(n))));
  return out;
}

async function verifyTo(journalPath: string, html: string, expectCode: number): Promise<void> {
  const io = captureIo();
  const out = join(dir, 'demo');
  const code = await runCli(
    [
      'audit',
      'verify',
      journalPath,
      '--trust',
      join(out, 'trust.json'),
      '--maps',
      join(out, 'maps'),
      '--html',
      html,
    ],
    io,
  );
  expect(code, io.err()).toBe(expectCode);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edca-report-'));
  const io = captureIo();
  expect(await runCli(['demo', '--out', join(dir, 'demo'), '--clock', 'fixed'], io)).toBe(0);
  const text = readFileSync(join(dir, 'demo', 'journal.jsonl'), 'utf8');
  journal = text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
  await verifyTo(join(dir, 'demo', 'journal.jsonl'), join(dir, 'intact.html'), 0);
  // One byte of decision 2's reasons changed: its signature no longer holds (a finding at seq 2).
  const lines = text.split('\n');
  lines[1] = lines[1]!.replace('"ALLOWED"', '"ALLOWEE"');
  writeFileSync(join(dir, 'tampered.jsonl'), lines.join('\n'));
  await verifyTo(join(dir, 'tampered.jsonl'), join(dir, 'tampered.html'), 1);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('request', (r) => requests.push(r.url()));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the HTML audit report', () => {
  describe('when an intact journal is opened in Chromium', () => {
    beforeAll(async () => {
      await page.goto(pathToFileURL(join(dir, 'intact.html')).href);
    });

    it('says INTACT and lists every decision with its seq, verdict and intent', async () => {
      await expect(page.locator('#status').innerText()).resolves.toBe('INTACT');
      const decisions = journal.filter((r) => r.type === 'decision');
      const rows = page.locator('#decisions tbody tr');
      await expect(rows.count()).resolves.toBe(decisions.length);
      const shown = await attributes(rows, ['data-seq', 'data-verdict']);
      expect(shown).toEqual(decisions.map((d) => [String(d.seq), d.body.verdict]));
      await expect(page.locator('#f-count').innerText()).resolves.toBe(
        `${decisions.length} of ${decisions.length} decisions shown`,
      );
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'audit-report.png'), fullPage: true });
    });

    it('filters by verdict and by intent', async () => {
      const decisions = journal.filter((r) => r.type === 'decision');
      await page.selectOption('#f-verdict', 'permit');
      const visible = page.locator('#decisions tbody tr:visible');
      const permits = decisions.filter((d) => d.body.verdict === 'permit');
      await expect(visible.count()).resolves.toBe(permits.length);
      await page.selectOption('#f-intent', 'refund_payment');
      const both = permits.filter((d) => d.body.input?.proposal?.intent === 'refund_payment');
      await expect(visible.count()).resolves.toBe(both.length);
      const verdicts = await attributes(visible, ['data-verdict']);
      expect(new Set(verdicts.map(([v]) => v))).toEqual(new Set(['permit']));
      await expect(page.locator('#f-count').innerText()).resolves.toBe(
        `${both.length} of ${decisions.length} decisions shown`,
      );
      await page.selectOption('#f-verdict', '');
      await page.selectOption('#f-intent', '');
      await expect(visible.count()).resolves.toBe(decisions.length);
    });

    it("opens a permit's chain (approval → attempt → outcome) in one click", async () => {
      const escalated = journal.find((r) => r.type === 'approval');
      expect(escalated).toBeDefined();
      // The approved refund: the permit that followed the approval carries the attempt and outcome.
      const row = page.locator('#decisions tbody tr', { hasText: 'APPROVALS_MET' });
      await expect(row.locator('details li').first().isVisible()).resolves.toBe(false);
      await row.locator('summary').click();
      const steps = await row.locator('details li').allInnerTexts();
      expect(steps.some((s) => /attempt try 1/.test(s))).toBe(true);
      expect(steps.some((s) => /outcome completed/.test(s))).toBe(true);
    });

    it('charts decisions by verdict over time, summing to the number of decisions', async () => {
      const counts = await attributes(page.locator('#chart rect.bar'), ['data-verdict', 'data-count']);
      const total: Record<string, number> = {};
      for (const [v, n] of counts) total[v!] = (total[v!] ?? 0) + Number(n);
      const expected: Record<string, number> = {};
      for (const d of journal.filter((r) => r.type === 'decision'))
        expected[d.body.verdict!] = (expected[d.body.verdict!] ?? 0) + 1;
      expect(total).toEqual(expected);
    });

    it('loads nothing but itself (self-contained, no network)', () => {
      expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
    });

    it('prints without the filter controls and with every chain open', async () => {
      await page.emulateMedia({ media: 'print' });
      await expect(page.locator('.filters').isVisible()).resolves.toBe(false);
      await page.evaluate("window.dispatchEvent(new Event('beforeprint'))");
      const closed = await page.locator('details:not([open])').count();
      expect(closed).toBe(0);
      const pdf = await page.pdf({ format: 'A4' });
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      await page.emulateMedia({ media: 'screen' });
    });
  });

  describe('when the journal has a finding', () => {
    it('links the finding to its record, which the page reveals and highlights', async () => {
      await page.goto(pathToFileURL(join(dir, 'tampered.html')).href);
      await expect(page.locator('#status').innerText()).resolves.toMatch(/FINDING\(S\)$/);
      const finding = page.locator('#findings tr[data-seq="2"]').first();
      await expect(finding.innerText()).resolves.toContain('SIGNATURE_INVALID');
      await page.selectOption('#f-verdict', 'refuse');
      await finding.locator('a').click();
      expect(new URL(page.url()).hash).toBe('#rec-2');
      const target = page.locator('#rec-2');
      await expect(target.isVisible()).resolves.toBe(true);
      await expect(target.getAttribute('data-verdict')).resolves.toBe('permit');
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'audit-report-finding.png') });
    });
  });
});
