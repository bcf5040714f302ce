/**
 * ARP hot paths (issue 4, item 9) on the retail-banking fixture map:
 * - project + leak-check a typical view (derive, refs, display, free text, guard, canonical JSON); target ≤ 20 µs
 * - intake + validate a proposal (OpenAI tool call text → strict parse → zod → ref check); target ≤ 10 µs
 *
 *   pnpm bench:arp            # a table (or: pnpm bench arp)
 *   pnpm bench:arp --json     # one JSON object
 */
import { readFileSync } from 'node:fs';
import { createArp, createLeakGuard, tokenize, type Arp, type ArpSession } from '@edca/arp';
import { loadStateMap } from '@edca/semantic';
import { privateTermsOf, publicTextsOf } from '../packages/arp/src/internal/vocabulary.js';
import { isMain, report, runCases } from './harness.js';

const root = new URL('../', import.meta.url);

/** An ARP over the retail-banking fixture with inert handlers, and a projected good-standing view. */
export function arpBenchSetup(): {
  arp: Arp;
  records: Record<string, unknown>;
  session: ArpSession;
  proposalText: string;
} {
  const text = readFileSync(new URL('fixtures/maps/retail-banking.yaml', root), 'utf8');
  const loaded = loadStateMap(text, 'retail-banking.yaml');
  if (!loaded.ok) throw new Error('retail-banking fixture does not load');
  const map = loaded.value;
  const handlers = Object.fromEntries(
    Object.values(map.document.routes).map((r) => [r.handler, () => undefined]),
  );
  const arp = createArp({ map, refKey: new Uint8Array(32).fill(7), handlers });
  const file = JSON.parse(
    readFileSync(new URL('fixtures/records/retail-banking/good-standing.json', root), 'utf8'),
  ) as {
    records?: Record<string, unknown>;
  };
  const records = file.records ?? file;
  const session = { stream: 'bench', session: 's1' };
  const view = arp.project(records, session);
  if (!view.ok) throw new Error(`view refused: ${view.code}`);
  const payment = view.value.entities.payment;
  if (payment === undefined) throw new Error('no payment ref in the view');
  const proposalText = JSON.stringify({
    id: 'chatcmpl-1',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: {
                name: 'refund_payment',
                arguments: JSON.stringify({ payment, amount: 249.99, reason: 'duplicate_charge' }),
              },
            },
          ],
        },
      },
    ],
  });
  const check = arp.intake(proposalText, 'openai', session);
  if (!check.ok) throw new Error(`bench proposal refused: ${check.code} ${JSON.stringify(check.issues)}`);
  return { arp, records, session, proposalText };
}

/** Runs the suite and prints the report. */
export async function runArpBench(): Promise<void> {
  const { arp, records, session, proposalText } = arpBenchSetup();
  const view = arp.project(records, session);
  if (!view.ok) throw new Error(view.code);
  const guard = createLeakGuard({
    terms: privateTermsOf(arp.map),
    publicWords: new Set(publicTextsOf(arp.map).flatMap(tokenize)),
  });
  // What project scans per call: the data-dependent part (the state part is scanned once per state).
  const dataPart = {
    display: view.value.display,
    entities: Object.keys(view.value.entities),
    untrusted: view.value.untrusted,
  };
  const anthropic = {
    role: 'assistant',
    content: [
      { type: 'text', text: 'Refunding the duplicate charge.' },
      {
        type: 'tool_use',
        id: 'toolu_1',
        name: 'refund_payment',
        input: { payment: view.value.entities.payment, amount: 249.99, reason: 'duplicate_charge' },
      },
    ],
  };
  const must = (r: { ok: boolean }): void => {
    if (!r.ok) throw new Error('refused');
  };

  const rows = await runCases('arp', [
    {
      name: 'arp.project: derive + refs + leak guard + canonical JSON',
      fn: () => must(arp.project(records, session)),
      note: 'target ≤ 20 µs (includes semantic derive)',
    },
    { name: 'semantic derive alone (part of the line above)', fn: () => must(arp.map.derive(records)) },
    {
      name: 'leak guard: display, entity kinds, free text (part of project)',
      fn: () => guard.scan(dataPart),
    },
    {
      name: 'arp.intake: OpenAI chat completion text → proposal',
      fn: () => must(arp.intake(proposalText, 'openai', session)),
      note: 'target ≤ 10 µs (strict parse twice, zod, ref check)',
    },
    {
      name: 'arp.intake: parsed Anthropic message → proposal',
      fn: () => must(arp.intake(anthropic, 'anthropic', session)),
      note: 'target ≤ 10 µs',
    },
  ]);
  report('arp', rows, {
    viewBytes: Buffer.byteLength(view.json),
    map: 'fixtures/maps/retail-banking.yaml',
    records: 'good-standing.json',
  });
}

if (isMain(import.meta.url)) await runArpBench();
