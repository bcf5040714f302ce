import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createKernel, openFileJournal, systemClock } from '@edca/kernel';
import { digestBytes, loadPrivateKeyFile } from '@edca/records';
import { loadStateMap } from '@edca/semantic';

const cards = new Map([['tok_4f9a1c22e7', { CARD_TOKEN: 'tok_4f9a1c22e7', CARD_STATUS_CD: 'ACT' }]]);
const loaded = loadStateMap(readFileSync('cards.yaml', 'utf8'), 'cards.yaml');
if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics));
const map = loaded.value;
const signer = loadPrivateKeyFile('keys/kernel.key.pem'); // from `edca keygen --out keys`
const journal = await openFileJournal({ path: 'edca.journal', stream: 'cards', signer });
const kernel = await createKernel({
  maps: [map],
  signer,
  journal,
  clock: systemClock,
  refKey: randomBytes(32), // production: from your key store, the same on every instance
  loaders: { [map.name]: ({ refs }) => Promise.resolve({ card: cards.get(refs['card_token']!.id) }) },
  handlers: {
    'cards.freeze': (call) => (cards.get(String(call.realParams['card_token']))!.CARD_STATUS_CD = 'BLK_TMP'),
  },
});
const session = { stream: 'cards', session: 'chat-42' };
const arp = kernel.arps.get(map.name)!;
const view = arp.project({ card: cards.get('tok_4f9a1c22e7') }, session); // what the model is shown
if (!view.ok) throw new Error(view.code);
const modelOutput = { intent: 'freeze_card', params: { card: view.value.entities['card']! } }; // its answer
const intake = arp.intake(modelOutput, 'json', session); // or 'openai' | 'anthropic' | 'mcp'
if (!intake.ok) throw new Error(intake.code); // UNKNOWN_INTENT, SCHEMA_VIOLATION, REF_NOT_ISSUED…
const decision = await kernel.decide(intake.proposal, {
  session,
  principal: { id: 'agent-7', attributes: {} },
  proposer: { modelId: 'my-model', promptTemplateDigest: digestBytes('my system prompt') },
});
const result = decision.permit ? await kernel.execute(decision.permit, { session }) : decision.reasons;
await kernel.close();
await journal.close();
