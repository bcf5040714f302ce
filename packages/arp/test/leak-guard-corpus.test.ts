import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLeakGuard, DEFAULT_LEAK_PATTERNS, tokenize } from '@edca/arp';
import { privateTermsOf, publicTextsOf } from '../src/internal/vocabulary.js';
import { loadFixtureMap } from './helpers.js';

// The adversarial corpus of the leak guard (issue 4, item 3). The vocabulary is collected from
// the small-bank fixture map exactly as createArp collects it: source names (cust_acct),
// source fields (acct_status_cd, bal_minor), enum codes (FRZN, BLKD), handlers
// (ledger.postFeeReversal) and real route targets (amt_minor, acctNo, rsn_cd).
const map = loadFixtureMap();
const publicWords = new Set(publicTextsOf(map).flatMap(tokenize));
const guard = createLeakGuard({ terms: privateTermsOf(map), patterns: DEFAULT_LEAK_PATTERNS, publicWords });

const positives: [string, unknown, string][] = [
  // [what, document, expected rule]
  ['a source name as a value', { note: 'cust_acct' }, 'term:source'],
  ['a source field inside a sentence', { note: 'please read acct_status_cd for me' }, 'term:source_field'],
  ['a source field in camelCase', { note: 'AcctStatusCd' }, 'term:source_field'],
  ['a source field in upper case with dashes', { note: 'ACCT-STATUS-CD' }, 'term:source_field'],
  ['a source field with spaces', { note: 'bal minor' }, 'term:source_field'],
  ['a source field squashed into one word', { note: 'balminor' }, 'term:source_field'],
  ['a source name glued inside a longer word', { note: 'xxcustacctyy' }, 'term:source'],
  ['a private name as a key', { bal_minor: 1 }, 'term:source_field'],
  [
    'a private name nested deep',
    { a: { b: [{ c: ['ok', { d: 'the msg_body says' }] }] } },
    'term:source_field',
  ],
  ['an enum code', { status: 'FRZN' }, 'term:enum_code'],
  ['an enum code in lower case', { status: 'your card is blkd' }, 'term:enum_code'],
  ['a real enum code of a route', { reason: 'ERRR' }, 'term:enum_code'],
  ['a handler name', { next: 'ledger.postFeeReversal' }, 'term:handler'],
  ['a handler name in words', { next: 'Ledger post fee reversal' }, 'term:handler'],
  ['a route target', { field: 'amt_minor' }, 'term:route_target'],
  ['a route target in camelCase', { field: 'acctNo' }, 'term:route_target'],
  ['a name split across two fields', { a: 'cust', b: 'acct' }, 'term:source'],
  ['a name split across array items', { parts: ['acct', 'status', 'cd'] }, 'term:source_field'],
  ['a name split mid-word across fields', { a: 'cu', b: 'stacct' }, 'term:source'],
  ['a handler split across fields', { a: 'led', b: 'ger.postFee', c: 'Reversal' }, 'term:handler'],
  ['a ref-shaped string that is not ours', { s: 'ref_cust_acct_xxxxxxxxxx' }, 'term:source'],
  ['a name split between a key and its value', { card: 'tok' }, 'term:source_field'],
  ['a name with a zero-width space inside', { note: 'cust\u200bacct' }, 'term:source'],
  ['a short code with a zero-width space inside', { status: 'FR\u200bZN' }, 'term:enum_code'],
  ['a short code with a zero-width joiner inside', { status: 'BL\u200dKD' }, 'term:enum_code'],
  ['a short code with a word joiner inside', { status: 'F\u2060RZN' }, 'term:enum_code'],
  ['a short code with a soft hyphen inside', { status: 'BLK\u00adD' }, 'term:enum_code'],
  ['a short code with a byte-order mark inside', { status: 'FRZ\ufeffN' }, 'term:enum_code'],
  ['a name in full-width letters', { note: 'ＣＵＳＴ＿ＡＣＣＴ' }, 'term:source'],
  ['a name with Cyrillic look-alike letters', { note: '\u0441ust_\u0430cct' }, 'term:source'],
  ['a name with Greek look-alike capitals', { note: 'ΒΑL_ΜΙΝΟR' }, 'term:source_field'],
  ['a code with a Greek lunate sigma for c', { note: 'acct_status_\u03f2d' }, 'term:source_field'],
  ['an email address', { contact: 'Write to john.doe@example.com' }, 'pattern:email'],
  ['an email split across fields', { a: 'john.doe@', b: 'example.com' }, 'pattern:email'],
  ['an IBAN', { iban: 'DE89370400440532013000' }, 'pattern:iban'],
  ['an IBAN in groups', { iban: 'GB82 WEST 1234 5698 7654 32' }, 'pattern:iban'],
  ['a card number', { pan: '4111 1111 1111 1111' }, 'pattern:card_pan'],
  ['an account number', { note: 'account 12345678 is yours' }, 'pattern:account_number'],
  ['an account number as a JSON number', { n: 123456789 }, 'pattern:account_number'],
  ['an international phone number', { tel: '+44 20 7946 0958' }, 'pattern:phone'],
  ['a US phone number', { tel: '(555) 123-4567' }, 'pattern:phone'],
  ['a UK mobile number', { tel: 'call 07700 900001 today' }, 'pattern:phone'],
  ['a UK number with the area code in brackets', { tel: '(020) 7946 0018' }, 'pattern:phone'],
  ['a UK number grouped 4-3-4', { tel: '0207 946 0018' }, 'pattern:phone'],
  ['a French number in international format', { tel: '+33 1 23 45 67 89' }, 'pattern:phone'],
  ['a national id', { id: '078-05-1120' }, 'pattern:national_id'],
];

const negatives: [string, unknown][] = [
  ['ordinary banking prose', { note: 'The customer account is open and the balance is fine.' }],
  ['words that merely contain a code', { note: 'Activate the card; it was issued and is now blocked.' }],
  ['a near miss on a handler', { note: 'The ledger shows a fee reversal was posted.' }],
  ['a prefix of a private word', { note: 'custom accounts' }],
  ['public facet values and bands', { balance: '100-500', standing: 'open', band: 'over-500' }],
  ['amounts and dates', { amount: 12.5, on: '2026-11-21', at: '10:30' }],
  ['a date and time in one value', { at: '2026-11-21 10:30', iso: '2026-11-21T10:30:00Z' }],
  ['a masked card number', { card_number: '****4242' }],
  ['a short number', { n: 1234567 }],
  ['a card-length number that fails Luhn', { n: '4111 1111 1111 1112' }],
  ['a short local number', { n: 'ext 1234 567' }],
  ['an IBAN-shaped string with a bad checksum', { s: 'DE00370400440532013000' }],
  ['public words the map itself uses', { card: 'usable', msg: 'message' }],
  ['an email-looking word without a domain', { s: 'user@localhost' }],
  ['Russian and Greek prose', { note: 'Спасибо, всё в порядке. Ευχαριστώ πολύ.' }],
];

describe('leak guard corpus', () => {
  describe('when a document carries private vocabulary or private values', () => {
    for (const [what, doc, rule] of positives) {
      it(`catches ${what} (${rule})`, () => {
        expect(guard.scan(doc)?.rule).toBe(rule);
      });
    }
  });

  describe('when a document carries only public meaning', () => {
    for (const [what, doc] of negatives) {
      it(`lets ${what} through`, () => {
        expect(guard.scan(doc)).toBeUndefined();
      });
    }
  });

  describe('when a view carries hashes and refs whose characters include digit runs', () => {
    it('lets them through: a run glued to letters is part of an identifier, not a phone number', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
          (h, r) => {
            const doc = {
              approval: `sha256:${Buffer.from(h).toString('hex')}`,
              ref: `ref_${Buffer.from(r).toString('base64url')}`,
            };
            expect(guard.scan(doc)).toBeUndefined();
          },
        ),
        { numRuns: 2000, seed: 20261205 },
      );
      expect(guard.scan({ tel: 'ring 07700 900001.' })?.rule).toBe('pattern:phone');
    });
  });

  describe('when reporting a hit', () => {
    it('gives the JSON pointer of the leaf where the hit starts', () => {
      expect(guard.scan({ ok: 'fine', a: { b: ['x', 'the acct_status_cd'] } })?.path).toBe('/a/b/1');
      expect(guard.scan({ ok: 'fine', 'a/b~c': 'FRZN' })?.path).toBe('/a~1b~0c');
      expect(guard.scan({ ok: 'fine', x: 'mail me: a.b@example.org' })?.path).toBe('/x');
    });
  });
});

describe('look-alike letters', () => {
  // Letters from Unicode's confusables table (UTS #39) that a hand list of the common Cyrillic and
  // Greek ones missed: Cyrillic shha (U+04BB), qa (U+051A), we (U+051C), Greek lunate sigma (U+03F2).
  const lookalikes = createLeakGuard({ terms: [{ term: 'cash_qw_hold', category: 'source_field' }] });
  const cases: [string, string][] = [
    ['U+04BB for h', 'cas\u04bb_qw_hold'],
    ['U+051A for Q', 'CASH_\u051aW_HOLD'],
    ['U+051C for W', 'CASH_Q\u051c_HOLD'],
    ['U+03F2 for c', '\u03f2ash_qw_hold'],
    ['several at once, squashed', 'x\u03f2as\u04bb\u051a\u051c\u04bboldx'],
  ];
  for (const [what, text] of cases) {
    describe(`when a private name is spelt with ${what}`, () => {
      it('is caught', () => {
        expect(lookalikes.scan({ note: text })?.rule).toBe('term:source_field');
      });
    });
  }
  describe('when the look-alike is a capital I from another script', () => {
    it('folds to I, not to the l of its skeleton, so camelCase still splits the same', () => {
      expect(tokenize('\u0406dNumber')).toEqual(tokenize('IdNumber'));
    });
  });
});

describe('createLeakGuard', () => {
  describe('when a one-word term is shorter than the minimum', () => {
    it('does not scan for it (a code "A" would match every article)', () => {
      const g = createLeakGuard({ terms: [{ term: 'A', category: 'enum_code' }], patterns: [] });
      expect(g.terms).toEqual([]);
      expect(g.scan({ s: 'a card' })).toBeUndefined();
    });
  });

  describe('when a one-word private term is also a public word of the map', () => {
    it('exempts it and reports the exemption', () => {
      const g = createLeakGuard({
        terms: [
          { term: 'status', category: 'source_field' },
          { term: 'acct_status', category: 'source_field' },
        ],
        patterns: [],
        publicWords: new Set(['status']),
      });
      expect(g.exempted).toEqual(['status']);
      expect(g.scan({ s: 'status' })).toBeUndefined();
      expect(g.scan({ s: 'acctStatus' })?.rule).toBe('term:source_field');
    });
  });

  describe('when the owner allows a term explicitly', () => {
    it('does not scan for it', () => {
      const g = createLeakGuard({
        terms: [{ term: 'cust_acct', category: 'source' }],
        patterns: [],
        allowTerms: ['CustAcct'],
      });
      expect(g.scan({ s: 'cust_acct' })).toBeUndefined();
    });
  });

  describe('when a pattern is not global', () => {
    it('throws ArpError PATTERN_INVALID', () => {
      expect(() => createLeakGuard({ terms: [], patterns: [{ name: 'x', regex: /x/ }] })).toThrow(
        expect.objectContaining({ code: 'PATTERN_INVALID' }),
      );
    });
  });
});

describe('tokenize', () => {
  describe('when text mixes separators, camelCase, acronyms and digits', () => {
    it('splits into lower-case words', () => {
      expect(tokenize('HTTPServer_acctNo-2x.PAN4')).toEqual([
        'http',
        'server',
        'acct',
        'no',
        '2',
        'x',
        'pan',
        '4',
      ]);
    });
  });
});
