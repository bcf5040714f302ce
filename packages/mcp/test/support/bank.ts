// The host's system of record behind the test map: one customer with one card and one payment.
// It is the private side (real tokens and codes) that the MCP client must never see.
import { readFileSync } from 'node:fs';
import type { ArpHandler } from '@edca/arp';
import { loadStateMap, type CompiledMap } from '@edca/semantic';

export const MAP_PATH = new URL('./servicing-map.yaml', import.meta.url);

export interface ServicingBank {
  readonly card: { CRD_TOKEN: string; CRD_STAT: 'ACT' | 'BLK' };
  readonly payment: { PAY_REF: string; PAY_STAT: 'SETL' | 'RFND'; PAY_CENTS: number };
  /** Effects applied, one per idempotency key. */
  readonly effects: { handler: string; key: string }[];
}

export function createServicingBank(): ServicingBank {
  return {
    card: { CRD_TOKEN: 'tok_4f9a1c22e7', CRD_STAT: 'ACT' },
    payment: { PAY_REF: 'PMT-2026-0093312', PAY_STAT: 'SETL', PAY_CENTS: 24_999 },
    effects: [],
  };
}

export function servicingRecords(bank: ServicingBank): Record<string, unknown> {
  return { crd_tbl: { ...bank.card }, pay_tbl: { ...bank.payment } };
}

function once(bank: ServicingBank, handler: string, key: string, apply: () => void): { ok: true } {
  if (!bank.effects.some((e) => e.key === key && e.handler === handler)) {
    apply();
    bank.effects.push({ handler, key });
  }
  return { ok: true };
}

export function servicingHandlers(bank: ServicingBank): Record<string, ArpHandler> {
  return {
    'cards.freeze': (_call, ctx) =>
      once(bank, 'cards.freeze', ctx.idempotencyKey, () => (bank.card.CRD_STAT = 'BLK')),
    'cards.unfreeze': (_call, ctx) =>
      once(bank, 'cards.unfreeze', ctx.idempotencyKey, () => (bank.card.CRD_STAT = 'ACT')),
    'payments.refund': (_call, ctx) =>
      once(bank, 'payments.refund', ctx.idempotencyKey, () => (bank.payment.PAY_STAT = 'RFND')),
  };
}

export function loadServicingMap(): CompiledMap {
  const loaded = loadStateMap(readFileSync(MAP_PATH, 'utf8'), 'servicing-map.yaml');
  if (!loaded.ok) throw new Error(`test map invalid: ${JSON.stringify(loaded.diagnostics)}`);
  return loaded.value;
}
