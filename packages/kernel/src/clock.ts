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

/** RFC 3339 UTC with milliseconds, the `at` format of every record. */
export function toRfc3339(ms: number): string {
  return new Date(ms).toISOString();
}
