import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { signApproval, toRfc3339 } from '@edca/kernel';
import { createLeakGuard, createRefMinter, tokenize } from '@edca/arp';
import { createServicingBank } from './support/bank.js';
import { FIXTURE_REF_KEY, FIXTURE_STREAM, makeMcpFixture, type McpFixture } from './support/fixture.js';

const VIEW = 'edca://view/mcp-servicing';
const PRIVATE = [
  'CRD_TOKEN',
  'CRD_STAT',
  'crd_tbl',
  'pay_tbl',
  'PAY_REF',
  'cards.freeze',
  'card_token',
  'pay_ref',
  'tok_4f9a1c22e7',
  'PMT-2026',
];

interface View {
  entities: Record<string, string>;
  state: { machines: Record<string, string> };
  intents: { name: string; disposition: string }[];
}

let fx: McpFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

async function readView(client: Client): Promise<View> {
  const res = await client.readResource({ uri: VIEW });
  const first = res.contents[0] as { text: string };
  return JSON.parse(first.text) as View;
}

function payload(result: Awaited<ReturnType<Client['callTool']>>): Record<string, unknown> {
  return result.structuredContent as Record<string, unknown>;
}

function expectNoPrivateWords(text: string): void {
  for (const word of PRIVATE) expect(text).not.toContain(word);
}

describe('the edca MCP server (official client, in-memory transports)', () => {
  describe('when a client lists tools and reads its view', () => {
    it('lists exactly the map intents with the arp intake schemas, and no private word', async () => {
      fx = await makeMcpFixture();
      const client = await fx.connect();
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['freeze_card', 'refund_payment', 'unfreeze_card']);
      const arp = fx.kernel.arps.get('mcp-servicing')!;
      const expected = arp.toolDefinitions('mcp') as {
        name: string;
        inputSchema: unknown;
        description: string;
      }[];
      for (const def of expected) {
        const tool = tools.find((t) => t.name === def.name)!;
        expect(tool.description).toBe(def.description);
        expect(tool.inputSchema).toEqual(def.inputSchema);
      }
      expectNoPrivateWords(JSON.stringify(tools));
    });

    it('serves the view of its own session as a resource: refs, abstract states, no private value', async () => {
      fx = await makeMcpFixture();
      const client = await fx.connect();
      const { resources } = await client.listResources();
      expect(resources.map((r) => r.uri)).toContain(VIEW);
      const view = await readView(client);
      expect(view.entities['card']).toMatch(/^ref_[A-Za-z0-9_-]{22}$/);
      expect(view.state.machines).toEqual({ card: 'active', payment: 'settled' });
      expectNoPrivateWords(JSON.stringify(view));
    });
  });

  describe('when the model calls tools', () => {
    it('refuses an unknown tool with isError and UNKNOWN_INTENT (tool drift), before the kernel', async () => {
      fx = await makeMcpFixture();
      const client = await fx.connect();
      const result = await client.callTool({ name: 'search_user', arguments: { query: 'Okafor' } });
      expect(result.isError).toBe(true);
      expect(payload(result)['edca_refusal']).toBe('UNKNOWN_INTENT');
      expect(typeof payload(result)['message']).toBe('string');
    });

    it('refuses bad arguments (SCHEMA_VIOLATION) and a forged ref (REF_NOT_ISSUED)', async () => {
      fx = await makeMcpFixture();
      const client = await fx.connect();
      const view = await readView(client);
      const extra = await client.callTool({
        name: 'freeze_card',
        arguments: { card: view.entities['card']!, notify: true },
      });
      expect(extra.isError).toBe(true);
      expect(payload(extra)['edca_refusal']).toBe('SCHEMA_VIOLATION');
      const forged = await client.callTool({
        name: 'freeze_card',
        arguments: { card: `ref_${'A'.repeat(22)}` },
      });
      expect(payload(forged)['edca_refusal']).toBe('REF_NOT_ISSUED');
      expect(fx.bank.card.CRD_STAT).toBe('ACT');
    });

    it('binds refs to the MCP session: a ref shown to one session is not issued in another', async () => {
      fx = await makeMcpFixture();
      const alice = await fx.connect();
      const bob = await fx.connect();
      const aliceRef = (await readView(alice)).entities['card']!;
      const result = await bob.callTool({ name: 'freeze_card', arguments: { card: aliceRef } });
      expect(result.isError).toBe(true);
      expect(payload(result)['edca_refusal']).toBe('REF_NOT_ISSUED');
      expect(fx.bank.card.CRD_STAT).toBe('ACT');
    });

    it('returns a kernel refusal as isError with the reason code and public message; nothing runs', async () => {
      fx = await makeMcpFixture();
      const client = await fx.connect();
      const view = await readView(client);
      const result = await client.callTool({
        name: 'unfreeze_card',
        arguments: { card: view.entities['card']! },
      });
      expect(result.isError).toBe(true);
      expect(payload(result)).toMatchObject({
        edca_refusal: 'TRANSITION_NOT_ALLOWED',
        reasons: ['TRANSITION_NOT_ALLOWED'],
        message: 'the kernel refused this proposal',
      });
      const tooBig = await client.callTool({
        name: 'refund_payment',
        arguments: { payment: view.entities['payment']!, amount: 2000 },
      });
      expect(payload(tooBig)['edca_refusal']).toBe('NOT_ALLOWED');
      expect(fx.bank.effects).toEqual([]);
    });

    it('executes a permitted call and returns the projected result with the new view', async () => {
      fx = await makeMcpFixture();
      const client = await fx.connect();
      const view = await readView(client);
      const result = await client.callTool({
        name: 'freeze_card',
        arguments: { card: view.entities['card']! },
      });
      expect(result.isError).toBe(false);
      const body = payload(result) as { outcome: string; intent: string; view: View };
      expect(body.outcome).toBe('completed');
      expect(body.intent).toBe('freeze_card');
      expect(body.view.state.machines['card']).toBe('frozen');
      expect(fx.bank.card.CRD_STAT).toBe('BLK');
      expectNoPrivateWords(JSON.stringify(result));
    });

    it('answers an escalation with the pending approval id and what it waits for, and runs it once approved', async () => {
      fx = await makeMcpFixture();
      const client = await fx.connect();
      const view = await readView(client);
      const result = await client.callTool({
        name: 'refund_payment',
        arguments: { payment: view.entities['payment']!, amount: 249.99 },
      });
      expect(result.isError).toBe(false);
      const pending = payload(result) as {
        edca_pending: string;
        approval: string;
        waits_for: unknown;
        resource: string;
      };
      expect(pending.edca_pending).toBe('approval');
      expect(pending.approval).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(pending.waits_for).toEqual({ count: 1, role: 'approver' });
      expect(fx.bank.payment.PAY_STAT).toBe('SETL');

      const decisions = await collectDecisions(fx);
      const escalate = decisions.find((d) => d.hash === pending.approval)!;
      const signed = await signApproval(
        {
          domain: 'edca-approval-v1',
          decision: pending.approval as `sha256:${string}`,
          actionHash: escalate.actionHash as `sha256:${string}`,
          verdict: 'approve',
          approver: { kid: fx.approver.kid, role: 'approver' },
          at: toRfc3339(Date.now()),
        },
        fx.approver,
      );
      const answer = await fx.mcp.approve(signed);
      expect(answer).toMatchObject({
        status: 'decided',
        verdict: 'permit',
        execution: { status: 'completed' },
      });
      expect(fx.bank.payment.PAY_STAT).toBe('RFND');
      const res = await client.readResource({ uri: pending.resource });
      const after = JSON.parse((res.contents[0] as { text: string }).text) as {
        status: string;
        result: { outcome: string };
      };
      expect(after.status).toBe('approved');
      expect(after.result.outcome).toBe('completed');
    });
  });

  describe('when a permitted call returns its projected result', () => {
    it('sends the ARP projection as text and structured content, and a client changing it changes no later result', async () => {
      fx = await makeMcpFixture();
      const client = await fx.connect();
      const view = await readView(client);
      const first = await client.callTool({
        name: 'freeze_card',
        arguments: { card: view.entities['card']! },
      });
      const text = (first.content as { type: string; text: string }[])[0]!.text;
      expect(JSON.parse(text)).toEqual(first.structuredContent);
      const shown = payload(first) as { view: { intents: { name: string; description: string }[] } };
      expect(shown.view.intents.map((i) => i.name)).toEqual(['refund_payment', 'unfreeze_card']);
      for (const intent of shown.view.intents) intent.description = 'changed by the client';
      const second = await client.callTool({
        name: 'refund_payment',
        arguments: { payment: view.entities['payment']!, amount: 50 },
      });
      const again = payload(second) as { view: { intents: { description: string }[] } };
      expect(again.view.intents.map((i) => i.description)).toEqual(['Unfreeze a frozen debit card.']);
    });
  });

  describe('when an outbound message would carry a private word', () => {
    it('never echoes a private field name the model sent back in a refusal', async () => {
      fx = await makeMcpFixture();
      const client = await fx.connect();
      const view = await readView(client);
      const result = await client.callTool({
        name: 'freeze_card',
        arguments: { card: view.entities['card']!, CRD_STAT: 'BLK' },
      });
      expect(result.isError).toBe(true);
      expect(JSON.stringify(result)).not.toContain('CRD_STAT');
    });

    it('withholds a refusal (an error) that carries a private term (LEAK_BLOCKED)', async () => {
      const leaks: string[] = [];
      fx = await makeMcpFixture({ privateTerms: ['kernel refused'], onLeak: (i) => leaks.push(i.where) });
      const client = await fx.connect();
      const view = await readView(client);
      const result = await client.callTool({
        name: 'unfreeze_card',
        arguments: { card: view.entities['card']! },
      });
      expect(result.isError).toBe(true);
      expect(payload(result)['edca_refusal']).toBe('LEAK_BLOCKED');
      expect(JSON.stringify(result)).not.toMatch(/kernel refused/);
      expect(leaks).toEqual(['tools/call error']);
    });

    it('withholds a result that carries a private term, after the action ran (LEAK_BLOCKED)', async () => {
      fx = await makeMcpFixture({ privateTerms: ['completed'] });
      const client = await fx.connect();
      const view = await readView(client);
      const result = await client.callTool({
        name: 'freeze_card',
        arguments: { card: view.entities['card']! },
      });
      expect(payload(result)['edca_refusal']).toBe('LEAK_BLOCKED');
      expect(JSON.stringify(result)).not.toContain('completed');
      expect(fx.bank.card.CRD_STAT).toBe('BLK');
    });

    it('withholds every result whose offered intents carry a private term, not only the first', async () => {
      const leaks: { where: string; path: string }[] = [];
      fx = await makeMcpFixture({
        privateTerms: ['frozen debit'],
        onLeak: (i) => leaks.push({ where: i.where, path: i.hit.path }),
      });
      const client = await fx.connect();
      const view = await readView(client);
      // Only a frozen card offers unfreeze_card ("Unfreeze a frozen debit card."): both results do.
      const frozen = await client.callTool({
        name: 'freeze_card',
        arguments: { card: view.entities['card']! },
      });
      const refunded = await client.callTool({
        name: 'refund_payment',
        arguments: { payment: view.entities['payment']!, amount: 50 },
      });
      for (const result of [frozen, refunded]) {
        expect(payload(result)['edca_refusal']).toBe('LEAK_BLOCKED');
        expect(JSON.stringify(result)).not.toMatch(/frozen debit/i);
      }
      expect(fx.bank.card.CRD_STAT).toBe('BLK');
      expect(fx.bank.payment.PAY_STAT).toBe('RFND');
      expect(leaks.filter((l) => l.where === 'tools/call')).toEqual([
        { where: 'tools/call', path: expect.stringMatching(/^\/view\/intents\/\d+\//) as unknown },
        { where: 'tools/call', path: expect.stringMatching(/^\/view\/intents\/\d+\//) as unknown },
      ]);
    });

    it('withholds a view resource that carries a private term', async () => {
      fx = await makeMcpFixture({ privateTerms: ['debit card'] });
      const client = await fx.connect();
      const res = await client.readResource({ uri: VIEW });
      const text = (res.contents[0] as { text: string }).text;
      expect(JSON.parse(text)).toMatchObject({ edca_refusal: 'LEAK_BLOCKED' });
      expect(text).not.toContain('debit card');
    });

    it('does not read refs as words: views, results and approvals whose ref spells a configured private word still go out', async () => {
      // Refs are random MAC letters: with this map's codes (`act`, `blk`, `rfnd`, `setl`, …) about
      // one session in 2,500 has a ref that spells one (8 of 20,000 measured), and the guard then
      // withheld every view of that session. A session whose card ref spells a word the guard would
      // stop (the first found, so the test is deterministic) is shown everything.
      const guardOf = (term: string) => createLeakGuard({ terms: [{ term, category: 'configured' }] });
      const spelled = findSpellingSession((ref) =>
        tokenize(ref).find((t) => /^[a-z]{3,}$/.test(t) && t !== 'ref' && guardOf(t).scan(ref) !== undefined),
      );
      const leaks: { where: string; path: string }[] = [];
      fx = await makeMcpFixture({
        privateTerms: [spelled.word],
        onLeak: (i) => leaks.push({ where: i.where, path: i.hit.path }),
      });
      const client = await fx.connect(spelled.sessionId);
      const view = await readView(client);
      expect(view.entities['card']).toBe(spelled.ref);
      const frozen = await client.callTool({ name: 'freeze_card', arguments: { card: spelled.ref } });
      expect(payload(frozen)).toMatchObject({
        outcome: 'completed',
        view: { entities: { card: spelled.ref } },
      });
      const escalated = await client.callTool({
        name: 'refund_payment',
        arguments: { payment: view.entities['payment']!, amount: 249.99 },
      });
      const pending = payload(escalated) as {
        edca_pending: string;
        approval: `sha256:${string}`;
        resource: string;
      };
      expect(pending.edca_pending).toBe('approval');
      const decisions = await collectDecisions(fx);
      const signed = await signApproval(
        {
          domain: 'edca-approval-v1',
          decision: pending.approval,
          actionHash: decisions.find((d) => d.hash === pending.approval)!.actionHash as `sha256:${string}`,
          verdict: 'approve',
          approver: { kid: fx.approver.kid, role: 'approver' },
          at: toRfc3339(Date.now()),
        },
        fx.approver,
      );
      expect(await fx.mcp.approve(signed)).toMatchObject({ execution: { status: 'completed' } });
      const { resources } = await client.listResources();
      expect(resources.map((r) => r.uri)).toContain(pending.resource);
      const res = await client.readResource({ uri: pending.resource });
      expect(JSON.parse((res.contents[0] as { text: string }).text)).toMatchObject({
        status: 'approved',
        result: { outcome: 'completed', view: { entities: { card: spelled.ref } } },
      });
      expect(leaks).toEqual([]);
    });

    it('withholds the tool list when a configured private term appears in it', async () => {
      const leaks: string[] = [];
      fx = await makeMcpFixture({
        privateTerms: ['settled card payment'],
        onLeak: (i) => leaks.push(i.where),
      });
      const client = await fx.connect();
      const { tools } = await client.listTools();
      expect(tools).toEqual([]);
      expect(leaks).toContain('tools/list');
    });
  });
});

/**
 * The first session id `spelled-<n>` whose card ref holds a word `pick` returns, with the ref the
 * fixture will show that session (same key, stream and card token).
 */
function findSpellingSession(pick: (ref: string) => string | undefined): {
  sessionId: string;
  ref: string;
  word: string;
} {
  const minter = createRefMinter(FIXTURE_REF_KEY);
  const card = { kind: 'card', id: createServicingBank().card.CRD_TOKEN };
  for (let n = 0; n < 100_000; n++) {
    const sessionId = `spelled-${n}`;
    const ref = minter.mint({ stream: FIXTURE_STREAM, session: `mcp-${sessionId}` }, card);
    const word = pick(ref);
    if (word !== undefined) return { sessionId, ref, word };
  }
  throw new Error('no session id in 100,000 gives a card ref that spells a word');
}

async function collectDecisions(f: McpFixture): Promise<{ hash: string; actionHash: string }[]> {
  const out: { hash: string; actionHash: string }[] = [];
  for await (const r of f.journal.read()) {
    if (r.record.type === 'decision') {
      const body = r.record.body as { actionHash: string };
      out.push({ hash: r.hash, actionHash: body.actionHash });
    }
  }
  return out;
}
