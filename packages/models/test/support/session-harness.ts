// Shared set-up of the models tests: a real kernel (kernel test harness: real map, ARP routes,
// file journal, keys), the replay server with recorded exchanges, and the three official-SDK
// proposers pointed at it.
import { readFileSync } from 'node:fs';
import { safeVerifyJournal, type AuditReport } from '@edca/audit';
import { toBase64url, type TrustFile } from '@edca/records';
import {
  createAnthropicProposer,
  createOpenAIChatProposer,
  createOpenAIResponsesProposer,
  type ModelApi,
  type ModelProposer,
} from '@edca/models';
import type { Harness } from '../../../kernel/test/support/harness.js';
import type { Exchange } from './replay-server.js';

export { agent, makeHarness, type Harness } from '../../../kernel/test/support/harness.js';

/** The recorded exchanges of one API, by name; `{{ref}}` stands for the ref the view showed. */
export function exchanges(api: ModelApi, ref: string): (name: string) => Exchange {
  const file = new URL(`../fixtures/exchanges/${api}.json`, import.meta.url);
  const all = JSON.parse(readFileSync(file, 'utf8').replaceAll('{{ref}}', ref)) as Record<string, Exchange>;
  return (name) => {
    const e = all[name];
    if (e === undefined) throw new Error(`no recorded exchange ${name} for ${api}`);
    return e;
  };
}

/** A proposer of `api` whose SDK client talks to `origin`. */
export function proposerFor(api: ModelApi, origin: string): ModelProposer {
  const options = { model: 'test-model', apiKey: 'sk-test', baseURL: `${origin}/v1` };
  if (api === 'openai-chat') return createOpenAIChatProposer(options);
  if (api === 'openai-responses') return createOpenAIResponsesProposer(options);
  // The Anthropic SDK appends /v1 itself.
  return createAnthropicProposer({ ...options, baseURL: origin });
}

/** The records of payment P-1, as the view is projected from them. */
export function recordsOf(h: Harness, id = 'P-1'): () => Record<string, unknown> {
  return () => ({ tbl_pay: { ...h.bank.rows.get(id)! } });
}

/** Verifies the harness journal with the auditor (the kernel key trusted). */
export async function audit(h: Harness): Promise<AuditReport> {
  const trust: TrustFile = {
    version: 1,
    keys: [
      {
        kid: h.signer.kid,
        alg: 'Ed25519',
        publicKey: toBase64url(h.signer.publicKey),
        role: 'kernel',
        notBefore: '2020-01-01T00:00:00.000Z',
        notAfter: null,
      },
    ],
  };
  const r = await safeVerifyJournal(readFileSync(h.journalPath, 'utf8'), { trust, workers: 0 });
  return r.ok ? r.value : r.error.report!;
}

/** The journal's records, decoded loosely, for assertions. */
export function journalRecords(h: Harness): { type: string; body: Record<string, unknown> }[] {
  return readFileSync(h.journalPath, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; body: Record<string, unknown> });
}
