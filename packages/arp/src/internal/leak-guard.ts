import type { FastPath } from '@edca/records';
import { findPhoneNumbersInText, type CountryCode } from 'libphonenumber-js';
import { CONFUSABLE_TO_ASCII } from './confusables-data.js';
import { ArpError } from './errors.js';

/** Where a private term comes from; reported with incidents so an operator knows what leaked. */
export type TermCategory =
  'source' | 'source_field' | 'enum_code' | 'handler' | 'route_target' | 'configured' | 'map';

/** One word of the private vocabulary. */
export interface PrivateTerm {
  readonly term: string;
  readonly category: TermCategory;
}

/** A configured pattern for private values (account numbers, emails, …). */
export interface LeakPattern {
  readonly name: string;
  /** Matched against each string leaf and against adjacent leaves joined; must not be sticky. */
  readonly regex: RegExp;
  /** A cheap prefilter: text that lacks this character (or fails this non-global regex) is skipped. */
  readonly requires?: string | RegExp;
  /**
   * Optional check on a match (a checksum, a phone-number library), to keep false positives down;
   * it also gets the whole text and the match's index, for context around the match. After a
   * rejected match the search goes on from the next character, so a value is not hidden by
   * digits glued in front of it; past {@link MAX_REJECTED_MATCHES} rejected matches in one scan
   * the pattern counts as a hit (fail closed: the checks are the costly part).
   */
  readonly accept?: (match: string, text: string, index: number) => boolean;
}

/** What the guard found: the JSON pointer of the first hit and the rule, never the value itself. */
export interface LeakHit {
  readonly path: string;
  readonly rule: `term:${TermCategory}` | `pattern:${string}`;
  /** The private term (for terms) — private-side information for the incident record only. */
  readonly term?: string;
}

/** The guard: `scan` returns the first hit or undefined. Pure and deterministic. */
export interface LeakGuard {
  scan(value: unknown): LeakHit | undefined;
  /** The terms actually scanned for, after exemptions (normalized, sorted). */
  readonly terms: readonly string[];
  /** Private terms dropped because the map publishes the same word itself (e.g. `post_code` for `postcode`). */
  readonly exempted: readonly string[];
}

/** Options of {@link createLeakGuard}. */
export interface LeakGuardOptions {
  readonly terms: readonly PrivateTerm[];
  readonly patterns?: readonly LeakPattern[];
  /** Words the map publishes on purpose; a private term that squashes to one of them is exempt. */
  readonly publicWords?: ReadonlySet<string>;
  /** Private terms the owner explicitly allows in views (normalized by the same tokenizer). */
  readonly allowTerms?: readonly string[];
}

/**
 * Minimum length of a one-word term: shorter codes ("A", "CL") match too much ordinary text to
 * be scanned alone; they are only meaningful next to a field name, which is scanned.
 */
export const MIN_SINGLE_TERM_LENGTH = 3;
/** Minimum squashed length for matching a term whose pieces were split or glued together. */
export const MIN_SQUASHED_LENGTH = 6;

// Words: an upper-case run not followed by lower case (acronym), a capitalised or lower-case
// word, a digit run, or any other letters (scripts without case). Everything else separates.
const TOKEN = /\p{Lu}+(?!\p{Ll})|\p{Lu}?\p{Ll}+|\p{N}+|[\p{L}\p{M}]+/gu;
// The same rule restricted to ASCII: five times faster, and exact for ASCII text.
const ASCII_TOKEN = /[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+/g;
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

/** Pushes the lower-case tokens of `text` (already NFKC-normalized) onto `out`. */
function pushTokens(text: string, out: string[], leafOf: number[] | undefined, leaf: number): void {
  pushTokensBy(NON_ASCII.test(text) ? TOKEN : ASCII_TOKEN, text, out, leafOf, leaf);
}

function pushTokensBy(
  re: RegExp,
  text: string,
  out: string[],
  leafOf: number[] | undefined,
  leaf: number,
): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    out.push(m[0].toLowerCase());
    leafOf?.push(leaf);
  }
}

/**
 * The lower-case tokens of NFKC-normalized text. Reference: the Unicode word rule. Fast: the same
 * rule restricted to ASCII, for ASCII text (what {@link pushTokens} picks).
 */
export const tokensPath: FastPath<[text: string], string[]> = {
  reference: (text) => {
    const out: string[] = [];
    pushTokensBy(TOKEN, text, out, undefined, 0);
    return out;
  },
  fast: (text) => {
    if (NON_ASCII.test(text)) return undefined;
    const out: string[] = [];
    pushTokensBy(ASCII_TOKEN, text, out, undefined, 0);
    return out;
  },
};

/** Splits text into lower-case tokens at separators, camelCase and letter/digit boundaries. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  pushTokens(NON_ASCII.test(text) ? fold(text) : text, out, undefined, 0);
  return out;
}

interface Entry {
  readonly tokens: readonly string[];
  readonly category: TermCategory;
  readonly term: string;
}

function luhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function ibanValid(raw: string): boolean {
  const s = raw.replace(/ /g, '');
  const moved = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (const ch of moved) {
    const code = ch.charCodeAt(0);
    const v = code >= 65 ? code - 55 : code - 48;
    rem = (v > 9 ? rem * 100 + v : rem * 10 + v) % 97;
  }
  return rem === 1;
}

/** Seven digits with at most three separators between each: every digit pattern below needs that much. */
const DIGIT_RUN = /[0-9](?:[ ().-]{0,3}[0-9]){6}/;

/** Rejected matches of one pattern in one scan after which the pattern counts as a hit. */
export const MAX_REJECTED_MATCHES = 64;

/** Regions whose national phone formats the default `phone` pattern knows (`07700 900001`, `(555) 123-4567`). */
export const DEFAULT_PHONE_REGIONS: readonly CountryCode[] = ['GB', 'US'];

// A whole phone-shaped run: 7 to 15 digits, each group separated by at most two of ` ( ) . / -`,
// an optional leading `+`, and no digit group right before or after it (a longer run, such as a
// card number that fails Luhn, is no phone number; libphonenumber's own finder reads runs whole
// the same way). Bounded, so each start reads at most a few dozen characters. An ISO date is no
// phone number and is skipped.
// A run glued to a letter or digit is part of a word (a hash, a ref, an id), not a phone number.
const PHONE_CANDIDATE =
  /(?<![0-9+][ ./()-]{0,2})(?<![A-Za-z_])\+?(?:\(?[0-9]\)?[ ./-]{0,2}){7,15}(?![0-9A-Za-z_]|[ ./-]{0,2}\(?[0-9])/g;
const ISO_DATE_START = /^[12][0-9]{3}-[01][0-9]-[0-3][0-9](?![0-9])/;
const PHONE_CONTEXT = 3;
// A national number written with its trunk prefix (`07700 900001`, `(020) 7946 0018`).
const TRUNK_PREFIX = /^[^0-9]*0/;

/**
 * The `phone` pattern for the given regions: a phone-shaped run is a hit when libphonenumber-js
 * finds a number in it (with the `:30` after it, so `2026-11-21 10:30` reads as a time stamp)
 * that is international (`+44 20 7946 0958`), valid in one of `regions` (`(212) 555-0123`), or
 * written with a trunk prefix and of a possible length there, reserved ranges included
 * (`07700 900001`). A band such as `10000-50000` and a short `1234567` are not numbers.
 */
export function createPhonePattern(regions: readonly CountryCode[] = DEFAULT_PHONE_REGIONS): LeakPattern {
  return {
    name: 'phone',
    requires: DIGIT_RUN,
    regex: new RegExp(PHONE_CANDIDATE.source, 'g'),
    accept: (match, text, index) => {
      if (ISO_DATE_START.test(match)) return false;
      // A `:30` after the run makes it a time stamp to the finder (`2026-11-21 10:30`).
      const end = index + match.length;
      const window = text.charCodeAt(end) === 58 ? text.slice(index, end + PHONE_CONTEXT) : match;
      for (const defaultCountry of regions) {
        // `leniency` is a documented option of the finder that its type declarations omit:
        // 'POSSIBLE' checks the length only, so reserved ranges (`07700 900xxx`) count too.
        const options = { defaultCountry, leniency: 'POSSIBLE' };
        for (const found of findPhoneNumbersInText(window, options)) {
          const written = window.slice(found.startsAt);
          if (
            window.includes('+') ||
            found.number.isValid() ||
            (TRUNK_PREFIX.test(written) && found.number.nationalNumber.length >= 9)
          )
            return true;
        }
      }
      return false;
    },
  };
}

/**
 * The default value patterns. Patterns never span a newline, so each leaf is checked alone when
 * leaves are joined with newlines; joining without a separator catches a value split in two.
 */
export const DEFAULT_LEAK_PATTERNS: readonly LeakPattern[] = [
  {
    name: 'email',
    requires: '@',
    // Matched from the start of a local part only (look-behind), so a long run before an `@`
    // is read once, not again from each of its positions.
    regex: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g,
  },
  {
    name: 'iban',
    requires: DIGIT_RUN,
    regex: /\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b/g,
    accept: ibanValid,
  },
  {
    name: 'card_pan',
    requires: DIGIT_RUN,
    regex: /\b(?:[0-9][ -]?){12,18}[0-9]\b/g,
    accept: (m) => luhn(m.replace(/[ -]/g, '')),
  },
  { name: 'account_number', requires: DIGIT_RUN, regex: /\b[0-9]{8,34}\b/g },
  { name: 'national_id', requires: DIGIT_RUN, regex: /\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b/g },
  // After the fixed shapes above, so a national id is reported as one, not as a number.
  createPhonePattern(),
];

interface TrieNode {
  readonly next: Map<number, TrieNode>;
  entry?: Entry;
}

interface Trie {
  readonly root: Map<number, TrieNode>;
  /** Bit per pair of leading ASCII characters of some term: most positions fail this one check. */
  readonly pairs: Uint8Array;
}

function createTrie(entries: readonly Entry[]): Trie {
  const root = new Map<number, TrieNode>();
  const pairs = new Uint8Array(128 * 128);
  for (const e of entries) {
    const word = e.tokens.join('');
    const c0 = word.charCodeAt(0);
    const c1 = word.charCodeAt(1);
    if (c0 < 128 && c1 < 128) pairs[c0 * 128 + c1] = 1;
    else pairs.fill(1); // a non-ASCII term: no prefilter
    let level = root;
    let node: TrieNode | undefined;
    for (let i = 0; i < word.length; i++) {
      const c = word.charCodeAt(i);
      node = level.get(c);
      if (node === undefined) {
        node = { next: new Map() };
        level.set(c, node);
      }
      level = node.next;
    }
    if (node !== undefined && node.entry === undefined) node.entry = e;
  }
  return { root, pairs };
}

function findInTrie(trie: Trie, text: string): { index: number; entry: Entry } | undefined {
  const { root, pairs } = trie;
  for (let i = 0; i + 1 < text.length; i++) {
    const c0 = text.charCodeAt(i);
    const c1 = text.charCodeAt(i + 1);
    if (c0 < 128 && c1 < 128 && pairs[c0 * 128 + c1] === 0) continue;
    let level = root;
    for (let j = i; j < text.length; j++) {
      const node = level.get(text.charCodeAt(j));
      if (node === undefined) break;
      if (node.entry !== undefined) return { index: i, entry: node.entry };
      level = node.next;
    }
  }
  return undefined;
}

// Letters of other scripts that look like Latin ones (`сust_аcct` with a Cyrillic с and а), from
// Unicode's confusables table (UTS #39; see confusables-data.ts for its version and provenance).
// Applied after NFKC, to matching only; what the model sees is never rewritten.
const CONFUSABLES = new Map<string, string>(
  CONFUSABLE_TO_ASCII.map(([cp, ascii]) => [String.fromCodePoint(cp), ascii]),
);
const CONFUSABLE = new RegExp(`[${[...CONFUSABLES.keys()].join('')}]`, 'gu');
// Invisible characters (zero-width space and joiner, word joiner, soft hyphen, BOM, …): removed,
// so `SIM\u200bTERM` is read as `SIMTERM`, not as two unrelated words.
const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

const toLatin = (c: string): string => CONFUSABLES.get(c) ?? c;

/**
 * Invisible characters removed, look-alikes folded to Latin, NFKC, and look-alikes folded again:
 * the text the guard matches on. Folding before NFKC too, because NFKC turns some look-alikes into
 * letters that are not listed as one (the lunate sigma `ϲ`, which looks like `c`, becomes `ς`).
 */
function fold(text: string): string {
  return text
    .replace(IGNORABLE, '')
    .replace(CONFUSABLE, toLatin)
    .normalize('NFKC')
    .replace(CONFUSABLE, toLatin);
}

/** Collects keys and scalar values in document order, marking which leaves are keys. */
function collect(value: unknown, leaves: string[], isKey: boolean[], depth: number): void {
  if (depth > 64) throw new ArpError('LEAK_IN_MAP', 'value too deeply nested to scan');
  if (typeof value === 'string') {
    // NFKC folds full-width and compatibility forms (ＣＵＳＴ → CUST), then Latin look-alikes.
    leaves.push(NON_ASCII.test(value) ? fold(value) : value);
    isKey.push(false);
  } else if (typeof value === 'number') {
    leaves.push(String(value));
    isKey.push(false);
  } else if (Array.isArray(value)) {
    for (const item of value) collect(item, leaves, isKey, depth + 1);
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      leaves.push(NON_ASCII.test(k) ? fold(k) : k);
      isKey.push(true);
      collect(v, leaves, isKey, depth + 1);
    }
  }
}

/** Finds the JSON pointer of leaf number `index` (same order as `collect`). */
function pathOfLeaf(value: unknown, index: number): string {
  let n = 0;
  let found = '';
  const esc = (k: string): string => k.replace(/~/g, '~0').replace(/\//g, '~1');
  const walk = (v: unknown, path: string): boolean => {
    if (typeof v === 'string' || typeof v === 'number') {
      if (n++ === index) return ((found = path), true);
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (walk(v[i], `${path}/${i}`)) return true;
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, child] of Object.entries(v)) {
        if (n++ === index) return ((found = `${path}/${esc(k)}`), true);
        if (walk(child, `${path}/${esc(k)}`)) return true;
      }
    }
    return false;
  };
  walk(value, '');
  return found;
}

/**
 * Builds a leak guard over the private vocabulary and value patterns.
 *
 * Matching, all case-insensitive on tokens (see {@link tokenize}):
 * 1. whole-token sequences anywhere in the token stream of the document (keys and values, in
 *    order), so `cust_acct_no`, `CustAcctNo`, `CUST ACCT NO` and `["cust","acct","no"]` all hit;
 * 2. adjacent tokens glued together equal to a term (≥ 6 letters): `"transac"`, `"tions"`;
 * 3. multi-word terms (≥ 6 letters squashed) as a substring of the squashed stream: `custacctno`,
 *    `xCustacctNoy`.
 * One-word terms shorter than 3 letters are not scanned; one-word terms are never matched inside
 * a longer word (`order` does not trip on `border`). See docs/threat-model.md for the trade-off.
 * @throws ArpError PATTERN_INVALID when a pattern is not global or is sticky.
 */
export function createLeakGuard(options: LeakGuardOptions): LeakGuard {
  const patterns = options.patterns ?? DEFAULT_LEAK_PATTERNS;
  for (const p of patterns) {
    if (!p.regex.global || p.regex.sticky) {
      throw new ArpError('PATTERN_INVALID', `leak pattern ${p.name} must be global and not sticky`);
    }
  }
  const allow = new Set((options.allowTerms ?? []).map((t) => tokenize(t).join(' ')));
  const publicWords = options.publicWords ?? new Set<string>();
  const byKey = new Map<string, Entry>();
  const exempted = new Set<string>();
  for (const { term, category } of options.terms) {
    const tokens = tokenize(term);
    if (tokens.length === 0) continue;
    const key = tokens.join(' ');
    if (allow.has(key)) continue;
    if (tokens.length === 1 && key.length < MIN_SINGLE_TERM_LENGTH) continue;
    // A word the map publishes itself (a facet value `open` for the code `OPEN`, a param
    // `postcode` for the field `post_code`) reveals nothing the model is not already shown.
    if (publicWords.has(tokens.join(''))) {
      exempted.add(key);
      continue;
    }
    if (!byKey.has(key)) byKey.set(key, { tokens, category, term: key });
  }
  const first = new Map<string, Entry[]>();
  const glued = new Map<string, Entry>();
  const gluedPrefixes = new Set<string>();
  const compound: Entry[] = [];
  for (const entry of byKey.values()) {
    const list = first.get(entry.tokens[0]!) ?? [];
    list.push(entry);
    first.set(entry.tokens[0]!, list);
    const squashed = entry.tokens.join('');
    if (squashed.length >= MIN_SQUASHED_LENGTH) {
      glued.set(squashed, entry);
      for (let i = 1; i < squashed.length; i++) gluedPrefixes.add(squashed.slice(0, i));
      if (entry.tokens.length > 1) compound.push(entry);
    }
  }
  // A character trie of the squashed multi-word terms: finds one inside any run of letters in
  // one pass, where a regex alternation would try every term at every position.
  const trie = createTrie(compound);

  // Keys, facet values and labels repeat in every view: remember the tokens of short leaves.
  const tokenCache = new Map<string, readonly string[]>();
  function tokensOf(leaf: string): readonly string[] {
    const hit = tokenCache.get(leaf);
    if (hit !== undefined) return hit;
    const out: string[] = [];
    pushTokens(leaf, out, undefined, 0);
    if (leaf.length <= 256) {
      if (tokenCache.size >= 8192) tokenCache.clear();
      tokenCache.set(leaf, out);
    }
    return out;
  }

  function matchStream(
    tokens: readonly string[],
    leafOf: readonly number[],
  ): { leaf: number; entry: Entry } | undefined {
    for (let i = 0; i < tokens.length; i++) {
      const candidates = first.get(tokens[i]!);
      if (candidates !== undefined) {
        for (const e of candidates) {
          let ok = i + e.tokens.length <= tokens.length;
          for (let k = 1; ok && k < e.tokens.length; k++) ok = tokens[i + k] === e.tokens[k];
          if (ok) return { leaf: leafOf[i]!, entry: e };
        }
      }
      // Glue following tokens on only while the text so far begins some term.
      let s = tokens[i]!;
      for (let j = i + 1; j < tokens.length && gluedPrefixes.has(s); j++) {
        s += tokens[j]!;
        const e = glued.get(s);
        if (e !== undefined) return { leaf: leafOf[i]!, entry: e };
      }
    }
    if (trie.root.size > 0) {
      const squashed = tokens.join('');
      const found = findInTrie(trie, squashed);
      if (found !== undefined) {
        let offset = 0;
        let t = 0;
        while (t < tokens.length - 1 && offset + tokens[t]!.length <= found.index)
          offset += tokens[t++]!.length;
        return { leaf: leafOf[t]!, entry: found.entry };
      }
    }
    return undefined;
  }

  /**
   * Matches over two streams: every leaf (keys and values, so a name split between a key and
   * its value is seen), and values only (so a name split across fields is not broken up by the
   * keys between them).
   */
  function scanTokens(
    leaves: readonly string[],
    isKey: readonly boolean[],
  ): { leaf: number; entry: Entry } | undefined {
    const all: string[] = [];
    const allLeaf: number[] = [];
    const values: string[] = [];
    const valueLeaf: number[] = [];
    for (let l = 0; l < leaves.length; l++) {
      const tokens = tokensOf(leaves[l]!);
      const key = isKey[l]!;
      for (const t of tokens) {
        all.push(t);
        allLeaf.push(l);
        if (!key) {
          values.push(t);
          valueLeaf.push(l);
        }
      }
    }
    return (
      matchStream(all, allLeaf) ?? (values.length < all.length ? matchStream(values, valueLeaf) : undefined)
    );
  }

  function scanPatterns(leaves: readonly string[]): { leaf: number; name: string } | undefined {
    for (const sep of ['\n', '']) {
      const text = leaves.join(sep);
      const gate = new Map<string | RegExp, boolean>();
      for (const p of patterns) {
        if (p.requires !== undefined) {
          let pass = gate.get(p.requires);
          if (pass === undefined) {
            pass = typeof p.requires === 'string' ? text.includes(p.requires) : p.requires.test(text);
            gate.set(p.requires, pass);
          }
          if (!pass) continue;
        }
        p.regex.lastIndex = 0;
        let rejected = 0;
        for (let m = p.regex.exec(text); m !== null; m = p.regex.exec(text)) {
          if (m[0].length === 0) p.regex.lastIndex++;
          else if (
            p.accept === undefined ||
            p.accept(m[0], text, m.index) ||
            ((p.regex.lastIndex = m.index + 1), ++rejected > MAX_REJECTED_MATCHES)
          ) {
            let offset = 0;
            let l = 0;
            while (l < leaves.length - 1 && offset + leaves[l]!.length + sep.length <= m.index) {
              offset += leaves[l]!.length + sep.length;
              l++;
            }
            return { leaf: l, name: p.name };
          }
        }
      }
    }
    return undefined;
  }

  return {
    terms: [...byKey.keys()].sort(),
    exempted: [...exempted].sort(),
    scan(value) {
      const leaves: string[] = [];
      const isKey: boolean[] = [];
      collect(value, leaves, isKey, 0);
      const term = scanTokens(leaves, isKey);
      if (term !== undefined) {
        return {
          path: pathOfLeaf(value, term.leaf),
          rule: `term:${term.entry.category}`,
          term: term.entry.term,
        };
      }
      const pattern = scanPatterns(leaves);
      if (pattern !== undefined) {
        return { path: pathOfLeaf(value, pattern.leaf), rule: `pattern:${pattern.name}` };
      }
      return undefined;
    },
  };
}
