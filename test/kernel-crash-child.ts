// The child process of test/kernel-crash.slow.test.ts: a host that embeds the kernel with the file
// journal and performs governed card freezes / unfreezes until it is killed (mode `work`), or only
// starts the kernel so that startup recovery runs, and exits (mode `recover`).
//
// Its "core banking" is a file of effects (`effects.jsonl`): a handler appends one line per call,
// with the idempotency key the kernel gave it (the permit hash), and the card states are replayed
// from that file. The handlers do NOT deduplicate, so a permit executed twice would show twice.
//
// Usage: node --import tsx test/kernel-crash-child.ts <dir> work|recover
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeSigner } from '@edca/records';
import { loadStateMap } from '@edca/semantic';
import type { ArpHandler } from '@edca/arp';
import { createKernel, openFileJournal, systemClock } from '@edca/kernel';

const [dir, mode] = process.argv.slice(2);
if (!dir || (mode !== 'work' && mode !== 'recover')) {
  console.error('usage: kernel-crash-child.ts <dir> work|recover');
  process.exit(2);
}
const CARDS = 400;
const effectsPath = join(dir, 'effects.jsonl');

interface Effect {
  readonly h: 'freeze' | 'unfreeze';
  readonly key: string;
  readonly card: string;
}

function readEffects(): Effect[] {
  if (!existsSync(effectsPath)) return [];
  const text = readFileSync(effectsPath, 'utf8');
  const lines = text.split('\n');
  lines.pop(); // the part after the last newline is empty, or a torn line
  return lines.map((l) => JSON.parse(l) as Effect);
}

const status = new Map<string, 'ACT' | 'BLK_TMP'>();
for (const e of readEffects()) status.set(e.card, e.h === 'freeze' ? 'BLK_TMP' : 'ACT');

function recordsFor(card: string): Record<string, unknown> {
  const n = card.slice(4);
  return {
    customer: { CUST_ID: `C-${n}`, KYC_STATUS_CD: 'V', VULN_FLAG: false, SEGMENT_CD: 'RTL' },
    account: {
      ACCT_NO: `A-${n}`,
      ACCT_STATUS_CD: 'OPN',
      DAYS_PAST_DUE: 0,
      FEE_WAIVERS_12M: 0,
      ARRG_CD: 'NONE',
      CLOSED_AT: null,
      TXNS: [],
    },
    card: { CARD_TOKEN: card, CARD_STATUS_CD: status.get(card) ?? 'ACT', PAN_LAST4: '4821' },
    payment: { PMT_ID: `P-${n}`, PMT_STATUS_CD: 'STL', AMT_CENTS: 2500, SETTLED_DAYS_AGO: 3 },
    contact: { ADDR_VERIF_CD: 'OK', ADDR_LAST_CHG_DAYS: 400 },
    message: { MSG_ID: `M-${n}`, MSG_BODY: '' },
  };
}

// EDCA_CRASH_STALL makes the first matching handler call stop forever, so the parent can kill the
// process exactly between the journaled attempt and its outcome: `freeze-after` stalls a freeze
// after its effect happened, `unfreeze-before` stalls an unfreeze before it happened.
const stall = process.env['EDCA_CRASH_STALL'];
let stalled = false;
const forever = (): Promise<never> => {
  console.log('stalled');
  return new Promise<never>(() => undefined);
};

function effectHandler(h: Effect['h']): ArpHandler {
  return async (call, context) => {
    const card = call.realParams['card_token'] as string;
    if (!stalled && stall === `${h}-before`) {
      stalled = true;
      await forever();
    }
    appendFileSync(effectsPath, `${JSON.stringify({ h, key: context.idempotencyKey, card })}\n`);
    status.set(card, h === 'freeze' ? 'BLK_TMP' : 'ACT');
    if (!stalled && stall === `${h}-after`) {
      stalled = true;
      await forever();
    }
    return { ok: true };
  };
}
const never: ArpHandler = () => {
  throw new Error('not used in the crash test');
};

const loaded = loadStateMap(readFileSync('fixtures/maps/retail-banking.yaml', 'utf8'), 'retail-banking.yaml');
if (!loaded.ok) throw new Error('retail-banking map does not load');
const signer = createNodeSigner(readFileSync(join(dir, 'kernel.pem'), 'utf8'));
const journal = await openFileJournal({ path: join(dir, 'journal.jsonl'), stream: 'crash', signer });
const kernel = await createKernel({
  maps: [loaded.value],
  loaders: {
    'retail-banking-servicing': ({ refs }) => Promise.resolve(recordsFor(refs['card_token']?.id ?? 'tok_0')),
  },
  refKey: new Uint8Array(32).fill(3),
  signer,
  journal,
  clock: systemClock,
  handlers: {
    'cards.status.blockTemporary': effectHandler('freeze'),
    'cards.status.unblock': effectHandler('unfreeze'),
    'core.payments.refundFull': never,
    'core.payments.refundPartial': never,
    'collections.arrangements.offer': never,
    'collections.arrangements.withdraw': never,
    'cards.status.blockLostAndReissue': never,
    'crm.contact.changeAddress': never,
    'core.fees.waive': never,
  },
  // Freezes can be checked against the effects file; unfreezes cannot (so they resolve to unknown).
  idempotencyChecks: {
    'cards.status.blockTemporary': (key) =>
      Promise.resolve(readEffects().some((e) => e.key === key) ? 'completed' : 'absent'),
  },
});

// Recovery is done (createKernel resolved): every attempt up to this head has its outcome.
const head = await journal.head();
writeFileSync(join(dir, 'recovered.json'), JSON.stringify({ ...kernel.recovery, headSeq: head.seq }));
if (mode === 'recover') {
  await kernel.close();
  await journal.close();
  process.exit(0);
}

console.log('ready');
const arp = kernel.arps.get('retail-banking-servicing')!;
const session = { stream: 'crash', session: `s-${process.pid}` };
const principal = { id: 'agent-1', attributes: { role: 'agent', strong_auth: true } };
const proposer = { modelId: 'crash-test', promptTemplateDigest: `sha256:${'0'.repeat(64)}` };
for (let n = 0; ; n += 1) {
  const card = `tok_${Math.floor(Math.random() * CARDS)}`;
  const view = arp.project(recordsFor(card), session);
  if (!view.ok) throw new Error(`projection refused: ${view.code}`);
  const ref = view.value.entities['card']!;
  const frozen = status.get(card) === 'BLK_TMP';
  const proposal = frozen
    ? { intent: 'unfreeze_card', params: { card: ref } }
    : { intent: 'freeze_card', params: { card: ref, reason: 'customer_request' } };
  const d = await kernel.decide(proposal, { session, principal, proposer });
  if (d.permit) await kernel.execute(d.permit, { session });
  if (n % 20 === 0) console.log(`done ${n}`);
}
