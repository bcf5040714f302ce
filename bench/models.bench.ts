/**
 * The governed session loop's own overhead per turn (issue 16, item 7), with the model and the
 * kernel path taken out: the proposer answers at once with a recorded OpenAI tool call, and the
 * kernel's decide and journal calls resolve at once with a fixed refusal. What remains per turn:
 * building the turn (tool definitions for the view, the conversation), bounds and usage
 * accounting, intake through the real ARP layer, and telling the model. Target ≤ 200 µs per turn.
 *
 *   pnpm bench models            # a table
 *   pnpm bench models --json     # one JSON object
 */
import type { Decision, Kernel, ProposerOutput } from '@edca/kernel';
import { runSession, type SessionBounds } from '@edca/models';
import { digestBytes } from '@edca/records';
import { arpBenchSetup } from './arp.bench.js';
import { isMain, report, runCases } from './harness.js';

const TURNS = 20;

/** Runs the suite and prints the report. */
export async function runModelsBench(): Promise<void> {
  const { arp, records, session, proposalText } = arpBenchSetup();
  const refusal: Decision = {
    verdict: 'refuse',
    rule: 'bench',
    reasons: ['NOT_ALLOWED'],
    decisionKey: null,
    stateHash: null,
    policyDigest: null,
    actionHash: null,
    accountable: null,
    record: null,
    cached: true,
  };
  const end = { seq: 1, hash: digestBytes('end') };
  // Only what runSession calls; decide and the journal answer at once (the kernel path is measured
  // in bench/kernel.bench.ts).
  const kernel = {
    arps: new Map([[arp.map.name, arp]]),
    decide: () => Promise.resolve(refusal),
    recordIntakeRefusal: () => Promise.resolve(end),
    endSession: () => Promise.resolve(end),
  } as unknown as Kernel;
  const output: ProposerOutput & { usage: { inputTokens: number; outputTokens: number } } = {
    kind: 'call',
    format: 'openai',
    raw: proposalText,
    usage: { inputTokens: 900, outputTokens: 30 },
  };
  const proposer = {
    modelId: 'bench',
    promptTemplateDigest: digestBytes('bench'),
    toolFormat: 'openai' as const,
    model: 'bench',
    propose: () => Promise.resolve(output),
  };
  const bounds: SessionBounds = {
    maxTurns: TURNS,
    maxConsecutiveRefusals: TURNS + 1,
    maxTokens: 10_000_000,
    maxCost: 1_000,
    prices: { bench: { inputPerMTok: 2, outputPerMTok: 8, currency: 'USD' } },
    deadlineMs: 3_600_000,
    callTimeoutMs: 60_000,
  };
  const options = {
    kernel,
    proposer,
    map: arp.map.name,
    session,
    goal: 'refund the duplicate charge',
    bounds,
    records: () => records,
    principal: { id: 'agent-1', attributes: {} },
  };
  const check = await runSession(options);
  if (check.reason !== 'TURN_LIMIT' || check.turns !== TURNS)
    throw new Error(`bench session ended ${check.reason}`);
  const view = arp.project(records, session);
  if (!view.ok) throw new Error(view.code);

  const rows = await runCases('models', [
    {
      name: `runSession: ${TURNS} turns, instant model and kernel (one whole session)`,
      fn: () => runSession(options),
      time: 3000,
      iterations: 400,
      note: `per turn = this / ${TURNS}; target ≤ 200 µs per turn`,
    },
    {
      name: 'ARP work of one turn (tool definitions + intake; part of the line above)',
      fn: () => {
        arp.toolDefinitions('openai', view.value.state);
        return arp.intake(proposalText, 'openai', session);
      },
    },
    {
      name: 'one projection (once per session; part of the first line)',
      fn: () => arp.project(records, session),
    },
  ]);
  const session20 = rows[0]!;
  const arpTurn = rows[1]!;
  const project = rows[2]!;
  const perTurn = (session20.medianUs - project.medianUs) / TURNS;
  report('models', rows, {
    turnsPerSession: TURNS,
    perTurnUs: Number(perTurn.toFixed(2)),
    perTurnWithoutArpUs: Number((perTurn - arpTurn.medianUs).toFixed(2)),
  });
}

if (isMain(import.meta.url)) await runModelsBench();
