/**
 * The pure part of the kernel: the decision key, the bounded decision cache and a
 * fail-closed wrapper around the map's `evaluate`. No I/O, no clock, no randomness.
 */
import { LRUCache } from 'lru-cache';
import { digestValue, type Digest } from '@edca/records';
import type { Proposal } from '@edca/arp';
import type { CompiledMap, DecisionInput, DecisionResult } from '@edca/semantic';
import type { DecisionReason } from './types.js';

/**
 * What the kernel decided for one decision key (what its cache holds): semantic's `DecisionResult`,
 * or a kernel refusal with a kernel reason code.
 */
export type KernelDecisionResult = Omit<DecisionResult, 'reasons'> & {
  readonly reasons: readonly DecisionReason[];
};

/** A normalized proposal: `@edca/arp`'s (its intake returns it); refs are opaque strings inside params. */
export type { Proposal };

/**
 * The decision key: SHA-256 over the RFC 8785 bytes of exactly the decision input.
 * @throws RecordsError IJSON_* when the input is not I-JSON
 * @example decisionKeyOf(input) === decisionKeyOf(structuredClone(input)); // true
 */
export function decisionKeyOf(input: DecisionInput): Digest {
  return digestValue(input);
}

/** Bounds of the decision cache. */
export interface DecisionCacheOptions {
  /** Most entries kept (default 10,000). */
  readonly maxEntries?: number;
  /** Most bytes kept, counting each entry's key and JSON size (default 8 MiB). */
  readonly maxBytes?: number;
}

/** A bounded cache from decision key to decision result; correct locally because decisions are pure. */
export interface DecisionCache {
  get(key: Digest): KernelDecisionResult | undefined;
  set(key: Digest, result: KernelDecisionResult): void;
  /** Entries held. */
  readonly size: number;
  /** Bytes held (by the cache's size calculation). */
  readonly bytes: number;
  clear(): void;
}

/**
 * Creates a bounded (entries and bytes) `lru-cache` keyed by decision key.
 * @throws RangeError when a bound is not a positive integer
 * @example const cache = createDecisionCache({ maxEntries: 1000, maxBytes: 1 << 20 });
 */
export function createDecisionCache(options: DecisionCacheOptions = {}): DecisionCache {
  const maxEntries = options.maxEntries ?? 10_000;
  const maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
  if (!Number.isInteger(maxEntries) || maxEntries < 1)
    throw new RangeError('maxEntries must be a positive integer');
  if (!Number.isInteger(maxBytes) || maxBytes < 1)
    throw new RangeError('maxBytes must be a positive integer');
  const lru = new LRUCache<string, KernelDecisionResult>({
    max: maxEntries,
    maxSize: maxBytes,
    sizeCalculation: (value, key) => key.length + JSON.stringify(value).length,
  });
  return {
    get: (key) => lru.get(key),
    set: (key, result) => {
      lru.set(key, result);
    },
    get size() {
      return lru.size;
    },
    get bytes() {
      return lru.calculatedSize;
    },
    clear: () => lru.clear(),
  };
}

const VERDICTS = new Set(['permit', 'refuse', 'escalate']);

/**
 * Evaluates a decision input against a map, fail closed: an exception becomes a `CONDITION_ERROR`
 * refusal and a malformed result (unknown verdict, a refusal without reasons) a `NO_RULE_MATCHED`
 * refusal. With a cache, a hit returns the stored result without evaluating.
 * @example evaluateDecision(map, input).verdict; // 'permit' | 'refuse' | 'escalate'
 */
export function evaluateDecision(
  map: CompiledMap,
  input: DecisionInput,
  cache?: { readonly cache: DecisionCache; readonly key: Digest },
): KernelDecisionResult {
  const hit = cache?.cache.get(cache.key);
  if (hit) return hit;
  let result: KernelDecisionResult;
  try {
    result = map.evaluate(input);
  } catch {
    // A condition that throws refuses (never guessed); the failure is not cached so that a
    // transient host fault in a custom map cannot pin a refusal.
    return Object.freeze<KernelDecisionResult>({
      verdict: 'refuse',
      rule: 'kernel.evaluate',
      reasons: ['CONDITION_ERROR'],
      accountable: map.owner,
    });
  }
  if (!VERDICTS.has(result.verdict) || (result.verdict !== 'permit' && result.reasons.length === 0)) {
    result = {
      verdict: 'refuse',
      rule: result.rule || 'kernel.evaluate',
      reasons: ['NO_RULE_MATCHED'],
      accountable: map.owner,
    };
  }
  const frozen: KernelDecisionResult = Object.freeze({
    ...result,
    reasons: Object.freeze([...result.reasons]),
  });
  cache?.cache.set(cache.key, frozen);
  return frozen;
}
