import { loadStateMap, type Diagnostic } from '@edca/semantic';
import { describe, expect, it } from 'vitest';
import { readFixture } from './helpers.js';

const BASE = readFixture('invalid/valid-base.yaml');

/** The base map with one piece of text replaced (which must be there). */
function variant(from: string, to: string): string {
  expect(BASE).toContain(from);
  return BASE.replace(from, to);
}

function diagnosticsOf(text: string): readonly Diagnostic[] {
  const r = loadStateMap(text, 'variant.yaml');
  return r.ok ? r.warnings : r.diagnostics;
}

const CARD_MACHINE = `machines:
  card:
    entity: account
    states: [active, frozen, closed]
    initial: active
    rules:
      - { when: "account.CARD_CD == 'ACT'", state: active }
      - { when: "account.CARD_CD == 'BLK' && account.HOT", state: frozen }
      - { when: "account.CARD_CD == 'BLK' && !account.HOT", state: frozen }
RULES_TAIL
  overdraft:`;

function cardMap(tail: string): string {
  return variant(
    '      OD_LIMIT_CENTS: integer',
    `      OD_LIMIT_CENTS: integer\n      CARD_CD: { type: enum, values: [ACT, BLK, CLS, LST] }\n      HOT: boolean`,
  ).replace('machines:\n  overdraft:', CARD_MACHINE.replace('RULES_TAIL\n', tail));
}

describe('rules that leave enum codes unmatched', () => {
  it('warn at validation (RULES_INCOMPLETE) naming each code, where derive fails with MACHINE_NO_MATCH', () => {
    const text = cardMap('');
    const r = loadStateMap(text, 'cards.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatchObject({
      code: 'RULES_INCOMPLETE',
      severity: 'warning',
      path: 'machines.card.rules',
    });
    expect(r.warnings[0]!.message).toContain('account.CARD_CD is "CLS"');
    expect(r.warnings[0]!.message).toContain('account.CARD_CD is "LST"');
    expect(r.warnings[0]!.message).toContain('MACHINE_NO_MATCH');
    const derived = r.value.derive({
      account: { ACCT_NO: 'A1', STATUS_CD: 'OPN', OD_LIMIT_CENTS: 0, CARD_CD: 'LST', HOT: false },
    });
    expect(derived).toMatchObject({ ok: false, code: 'MACHINE_NO_MATCH', path: 'machines.card' });
  });

  it('stay silent when the rules cover every combination, end in a catch-all, or the machine has a default', () => {
    const covering = `      - { when: "account.CARD_CD in ['CLS', 'LST']", state: closed }\n`;
    expect(diagnosticsOf(cardMap(covering))).toEqual([]);
    expect(diagnosticsOf(cardMap('      - { state: closed }\n'))).toEqual([]);
    expect(diagnosticsOf(cardMap('    default: closed\n'))).toEqual([]);
  });

  it('warn for a facet too, and leave rules over open types (integers) to run time', () => {
    const facet = diagnosticsOf(variant('      - { value: open }\n', ''));
    expect(facet).toMatchObject([{ code: 'RULES_INCOMPLETE', path: 'facets.standing.rules' }]);
    expect(facet[0]!.message).toContain('account.STATUS_CD is "OPN"');
    const numeric = variant(
      '      - { state: none }\n',
      '      - { when: account.OD_LIMIT_CENTS <= 0, state: none }\n',
    );
    expect(diagnosticsOf(numeric)).toEqual([]);
  });
});

describe('a misspelt name or value', () => {
  it('gets "did you mean" for a machine state in a transition or a rule', () => {
    const from = diagnosticsOf(
      variant('transition: { from: [none], to: arranged }', 'transition: { from: [nnoe], to: arrangd }'),
    );
    expect(from.map((d) => d.message)).toEqual(
      expect.arrayContaining([
        "machine overdraft declares no state 'nnoe'; did you mean 'none'?",
        "machine overdraft declares no state 'arrangd'; did you mean 'arranged'?",
      ]),
    );
    const rule = diagnosticsOf(variant('state: arranged }', 'state: aranged }'));
    expect(rule[0]!.message).toMatch(
      /'aranged' is not a state of machine overdraft .*; did you mean 'arranged'\?$/,
    );
  });

  it('gets "did you mean" for a facet value and a facet name in a condition, and for a rule value', () => {
    const value = diagnosticsOf(variant("facets.standing == 'open'", "facets.standing == 'opne'"));
    expect(value[0]).toMatchObject({ code: 'VALUE_NOT_IN_SET' });
    expect(value[0]!.message).toContain("; did you mean 'open'?");
    const name = diagnosticsOf(variant("facets.standing == 'open'", "facets.standng == 'open'"));
    expect(name[0]).toMatchObject({ code: 'CONDITION_UNKNOWN_FACET' });
    expect(name[0]!.message).toContain("unknown facet 'standng'; did you mean 'standing'?");
    const ruleValue = diagnosticsOf(variant('value: closed }', 'value: closd }'));
    expect(ruleValue[0]!.message).toContain("; did you mean 'closed'?");
  });

  it('gets no suggestion when nothing is close', () => {
    const far = diagnosticsOf(
      variant('transition: { from: [none], to: arranged }', 'transition: { from: [none], to: xyzzy }'),
    );
    expect(far[0]!.message).toBe("machine overdraft declares no state 'xyzzy'");
  });
});
