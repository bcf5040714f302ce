// The child process of test/models-session-crash.slow.test.ts: a host running governed sessions
// (a scripted model that drifts, then proposes a valid hold or release, then stops) on the file
// journal with fsync, until it is killed (mode `work`), or only opens the journal and kernel so the
// torn tail is recovered, and exits (mode `recover`). After each session record resolves it prints
// `durable <type> <seq>`: the parent checks every such record survived the SIGKILL.
//
// Usage: node --import tsx test/models-session-crash-child.ts <dir> work|recover
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKernel, createScriptedProposer, openFileJournal, systemClock } from '@edca/kernel';
import { runSession } from '@edca/models';
import { createNodeSigner, digestBytes } from '@edca/records';
import { loadStateMap } from '@edca/semantic';

const [dir, mode] = process.argv.slice(2);
if (!dir || (mode !== 'work' && mode !== 'recover')) {
  console.error('usage: models-session-crash-child.ts <dir> work|recover');
  process.exit(2);
}
const loaded = loadStateMap(
  readFileSync(new URL('../packages/kernel/test/support/refund-map.yaml', import.meta.url), 'utf8'),
  'refund-map.yaml',
);
if (!loaded.ok) throw new Error('map');
const map = loaded.value;
const signer = createNodeSigner(readFileSync(join(dir, 'kernel.pem'), 'utf8'));
const journal = await openFileJournal({ path: join(dir, 'journal.jsonl'), stream: 'crash', signer });
// The bank's state is not durable here: each run starts from settled payments (the guarantee under
// test is the session records', not the handlers').
const rows = new Map<string, string>();
const status = (id: string): string => rows.get(id) ?? 'SETL';
const row = (id: string): Record<string, unknown> => ({
  tbl_pay: { PAY_ID: id, STATUS_CD: status(id), AMT_CENTS: 5000 },
});
const set =
  (to: string) =>
  (call: { realParams: Record<string, unknown> }): { ok: true } => {
    rows.set(String(call.realParams['PAY_ID']), to);
    return { ok: true };
  };
const kernel = await createKernel({
  maps: [map],
  loaders: { [map.name]: ({ refs }) => Promise.resolve(row(refs['PAY_ID']!.id)) },
  refKey: new Uint8Array(32).fill(5),
  signer,
  journal,
  clock: systemClock,
  handlers: { 'pay.hold': set('HOLD'), 'pay.release': set('SETL'), 'pay.refund': set('RFND') },
});
if (mode === 'recover') {
  await kernel.close();
  await journal.close();
  process.exit(0);
}
process.stdout.write('ready\n');
for (let n = 0; ; n += 1) {
  const id = `P-${n % 40}`;
  const proposer = createScriptedProposer({
    modelId: 'crash-model',
    promptTemplateDigest: digestBytes('crash'),
    script: [
      { kind: 'call', format: 'json', raw: { intent: 'search_user', params: { q: id } } },
      (t) => ({
        kind: 'call',
        format: 'json',
        raw: {
          intent: t.view.intents.some((i) => i.name === 'hold_payment') ? 'hold_payment' : 'release_hold',
          params: { payment: t.view.entities['payment']! },
        },
      }),
      { kind: 'call', format: 'openai', raw: { choices: [{ message: { content: 'done' } }] } },
    ],
  });
  await runSession({
    kernel,
    proposer,
    map,
    session: { stream: 'crash', session: `s-${process.pid}-${n}` },
    goal: `toggle ${id}`,
    bounds: { maxTurns: 5, maxConsecutiveRefusals: 3, deadlineMs: 60_000, callTimeoutMs: 10_000 },
    records: () => row(id),
    principal: { id: 'agent-1', attributes: { tier: 'agent' } },
    onEvent: (e) => {
      if (e.kind === 'intake-refused') process.stdout.write(`durable intake.refused ${e.record.seq}\n`);
      if (e.kind === 'ended') process.stdout.write(`durable session.ended ${e.summary.record.seq}\n`);
    },
  });
}
