/**
 * Group commit for store calls: the calls of one kind that arrive while a statement of that kind is
 * in flight are sent together as the next statement, so concurrent decides share round trips (and
 * the per-statement work of the client and the server) instead of each paying for its own.
 */
import { sqlState } from './db.js';

/** Runs a batch: one result per item, in order. */
export type BatchRunner<I, O> = (items: readonly I[]) => Promise<readonly O[]>;

interface Pending<I, O> {
  readonly item: I;
  readonly resolve: (value: O) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Coalesces calls into batches of at most `maxBatch` items, with at most `maxInFlight` batches
 * running at once. A batch the server refused (an SQL error: its transaction was rolled back, so
 * nothing of it happened) is run again item by item, so one caller's bad argument fails only that
 * caller; any other failure (a lost connection: the outcome is unknown) fails every item of the batch.
 */
export class Batcher<I, O> {
  readonly #run: BatchRunner<I, O>;
  readonly #maxInFlight: number;
  readonly #maxBatch: number;
  #queue: Pending<I, O>[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(run: BatchRunner<I, O>, options: { maxInFlight?: number; maxBatch?: number } = {}) {
    this.#run = run;
    this.#maxInFlight = options.maxInFlight ?? 1;
    this.#maxBatch = options.maxBatch ?? 256;
  }

  /** Queues one item; resolves with its result once its batch ran. */
  call(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  /** Starts a batch after the current turn, so the calls made in this turn join it. */
  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight || this.#queue.length === 0) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#next();
    });
  }

  #next(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      this.#inFlight += 1;
      void this.#settle(batch).finally(() => {
        this.#inFlight -= 1;
        this.#schedule();
      });
    }
  }

  async #settle(batch: readonly Pending<I, O>[]): Promise<void> {
    try {
      const out = await this.#run(batch.map((p) => p.item));
      if (out.length !== batch.length) throw new Error('invariant: one result per batched call');
      batch.forEach((p, i) => p.resolve(out[i]!));
      return;
    } catch (error) {
      if (batch.length === 1 || sqlState(error) === undefined) {
        for (const p of batch) p.reject(error);
        return;
      }
    }
    for (const p of batch) {
      try {
        const [one] = await this.#run([p.item]);
        p.resolve(one!);
      } catch (error) {
        p.reject(error);
      }
    }
  }
}
