/** The clock port: the only way time enters the kernel (decisions see it only when the map asks). */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/**
 * The host's wall clock (`Date.now`); tests and replays inject their own `Clock`.
 * @example const kernel = await createKernel({ clock: systemClock, ... });
 */
export const systemClock: Clock = { now: () => Date.now() };

// toISOString costs about as much as hashing a small record, and a decision formats two times
// (its `at` and its expiry) that usually fall in the same two seconds as the previous decision's: two
// remembered seconds give the text with a string append. Integers only (Date truncates fractions).
const DATE_LIMIT_MS = 8.64e15; // ECMA-262 §21.4.1.22 TimeClip: later or earlier is not a Date
const seconds = [Number.NaN, Number.NaN];
const prefixes = ['', ''];
// A module cache (two remembered seconds and which one to replace next), shared by every kernel of the
// process: it changes no result, only how often toISOString runs.
let nextSlot = 0;

/**
 * RFC 3339 UTC with milliseconds, the `at` format of every record: exactly `new Date(ms).toISOString()`.
 * @throws RangeError when `ms` is outside the range of a Date
 * @example toRfc3339(0); // '1970-01-01T00:00:00.000Z'
 */
export function toRfc3339(ms: number): string {
  if (!Number.isSafeInteger(ms) || Math.abs(ms) > DATE_LIMIT_MS) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  const slot = seconds[0] === second ? 0 : seconds[1] === second ? 1 : -1;
  if (slot >= 0) {
    const milli = ms - second * 1000;
    return prefixes[slot]! + (milli < 10 ? '00' : milli < 100 ? '0' : '') + String(milli) + 'Z';
  }
  const text = new Date(ms).toISOString(); // throws RangeError outside a Date's range
  // `…ss.` of `…ss.mmmZ`, the same for every millisecond of this second.
  seconds[nextSlot] = second;
  prefixes[nextSlot] = text.slice(0, -4);
  nextSlot = 1 - nextSlot;
  return text;
}
