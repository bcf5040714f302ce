// A per-handler circuit breaker: after `threshold` consecutive failures the handler is not called
// for `cooldownMs`; then one trial call is let through (half-open), and its result closes or
// re-opens the circuit.

export interface BreakerOptions {
  readonly threshold: number;
  readonly cooldownMs: number;
}

export interface Breaker {
  /** Whether a call may start at `now` (in half-open, only one trial at a time). */
  allow(now: number): boolean;
  success(): void;
  failure(now: number): void;
  readonly state: 'closed' | 'open' | 'half-open';
}

export function createBreaker(options: BreakerOptions): Breaker {
  let failures = 0;
  let openedAt: number | null = null;
  let trial = false;
  let state: Breaker['state'] = 'closed';
  return {
    get state() {
      return state;
    },
    allow(now) {
      if (state === 'closed') return true;
      if (state === 'open' && openedAt !== null && now - openedAt >= options.cooldownMs) {
        state = 'half-open';
        trial = false;
      }
      if (state === 'half-open' && !trial) {
        trial = true;
        return true;
      }
      return false;
    },
    success() {
      failures = 0;
      openedAt = null;
      trial = false;
      state = 'closed';
    },
    failure(now) {
      failures += 1;
      trial = false;
      if (state === 'half-open' || failures >= options.threshold) {
        state = 'open';
        openedAt = now;
      }
    },
  };
}
