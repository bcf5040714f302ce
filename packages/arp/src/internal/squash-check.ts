import type { CompiledMap } from '@edca/semantic';
import { createLeakGuard, MIN_SQUASHED_LENGTH, tokenize, type TermCategory } from './leak-guard.js';
import { privateTermsOf, publicTextsOf } from './vocabulary.js';

/**
 * Public words of the map's state that, side by side in a view, squash into a private term: the
 * leak guard would withhold every view whose state shows them together. Reported by `edca
 * validate` and refused by the kernel's startup self-test, naming the words.
 */
export interface SquashedTerm {
  readonly code: 'PRIVATE_TERM_SQUASHED';
  /** The private term (normalized: lower-case words separated by spaces). */
  readonly term: string;
  readonly category: TermCategory;
  /** The public words, in order, whose letters run together into the term (`sim`, `terminated`). */
  readonly words: readonly string[];
  readonly message: string;
}

interface Step {
  readonly at: number;
  readonly words: readonly string[];
}

/**
 * How `s` is spelt by consecutive words across at least one word boundary: a word's ending (or
 * the whole word), whole words, then a word's beginning (or the whole word), as the guard's
 * inside-a-word rule reads a multi-word term; only whole words for a one-word term, as its glue
 * rule reads it. Undefined when no such spelling exists.
 */
function spell(s: string, words: readonly string[], partialEnds: boolean): readonly string[] | undefined {
  const seen = new Set<number>();
  const queue: Step[] = [];
  // Whole words first, so a report names `sim` rather than the end of `esim` when both fit.
  const maxCut = partialEnds ? Math.max(0, ...words.map((w) => w.length - 1)) : 0;
  for (let cut = 0; cut <= maxCut; cut++) {
    for (const w of words) {
      const piece = w.slice(cut);
      if (piece.length === 0 || piece.length >= s.length || !s.startsWith(piece) || seen.has(piece.length))
        continue;
      seen.add(piece.length);
      queue.push({ at: piece.length, words: [w] });
    }
  }
  for (let q = 0; q < queue.length; q++) {
    const { at, words: path } = queue[q]!;
    const rest = s.slice(at);
    for (const w of words) {
      if (partialEnds ? w.startsWith(rest) : w === rest) return [...path, w];
      if (w.length < rest.length && rest.startsWith(w) && !seen.has(at + w.length)) {
        seen.add(at + w.length);
        queue.push({ at: at + w.length, words: [...path, w] });
      }
    }
  }
  return undefined;
}

/**
 * Finds private terms that the words of the map's own state (facet and machine names, facet
 * values, state names) spell when they stand next to each other in a view, so an owner can rename
 * one before every such view is withheld at run time.
 * @example
 * for (const s of findSquashedTerms(map)) console.warn(s.message);
 */
export function findSquashedTerms(map: CompiledMap, allowTerms: readonly string[] = []): SquashedTerm[] {
  const stateWords = new Set<string>(['state', 'facets', 'machines']);
  for (const [facet, values] of Object.entries(map.facetValues))
    for (const text of [facet, ...values]) for (const t of tokenize(text)) stateWords.add(t);
  for (const m of map.machines)
    for (const text of [m.name, ...m.states]) for (const t of tokenize(text)) stateWords.add(t);
  const words = [...stateWords].sort();
  const publicWords = new Set(publicTextsOf(map).flatMap(tokenize));
  // The terms the guard scans for, after the same exemptions it applies.
  const guard = createLeakGuard({ terms: privateTermsOf(map), patterns: [], publicWords, allowTerms });
  const categories = new Map<string, TermCategory>();
  for (const t of privateTermsOf(map)) {
    const key = tokenize(t.term).join(' ');
    if (!categories.has(key)) categories.set(key, t.category);
  }
  const out: SquashedTerm[] = [];
  for (const term of guard.terms) {
    const tokens = term.split(' ');
    const squashed = tokens.join('');
    if (squashed.length < MIN_SQUASHED_LENGTH) continue;
    const spelt = spell(squashed, words, tokens.length > 1);
    if (spelt === undefined) continue;
    out.push({
      code: 'PRIVATE_TERM_SQUASHED',
      term,
      category: categories.get(term) ?? 'map',
      words: spelt,
      message:
        `the public words ${spelt.map((w) => `"${w}"`).join(' + ')} run together into the private ` +
        `term "${term}": a view whose state shows them side by side is withheld; rename one of them`,
    });
  }
  return out;
}
