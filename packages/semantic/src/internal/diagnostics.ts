import type { DiagnosticCode } from '../errors.js';

/** A diagnostic before it is placed in a file: a structured path and, for conditions, an offset. */
export interface RawDiagnostic {
  readonly code: DiagnosticCode;
  readonly severity: 'error' | 'warning';
  readonly path: readonly (string | number)[];
  readonly message: string;
  /** 0-based offset into the string value at `path` (conditions). */
  readonly offset?: number;
}

/** `['facets', 'x', 'rules', 1, 'when']` → `facets.x.rules[1].when`. */
export function pathToString(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

/** Parses `15m`, `24h`, `30d`, `500ms`, `90s` to milliseconds. */
export function durationMs(text: string): number {
  const m = /^([1-9][0-9]*)(ms|s|m|h|d)$/.exec(text);
  if (m === null) throw new RangeError(`not a duration: ${text}`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    m[2] as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Number(m[1]) * unit;
}
