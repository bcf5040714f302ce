import { match } from 'ts-pattern';
import { z } from 'zod';
import type { ParamSpec } from '@edca/semantic';
import { REF_PATTERN } from './refs.js';

/** Longest string param accepted whatever the map declares: intake is not a document upload. */
export const MAX_STRING_LENGTH = 4000;

/**
 * The pattern of a string param that declares none: letters (Latin-1 included), digits, space
 * and `. , ' -`. No `/ \ : ; = * % ?`, so paths, URLs and SQL cannot even be spelt.
 */
export const DEFAULT_STRING_PATTERN = /^[A-Za-z0-9\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u00FF .,'-]*$/;

/**
 * Why a string is refused whatever its declared pattern: each rule has a stable name.
 *
 * Every rule runs in time linear in the text (strings are also cut to their length limit before
 * any rule runs): no quantified run is re-scanned from each of its own positions. A scheme is
 * matched from the start of its run only (look-behind), and "X … later Y" is matched once from
 * the first X (an atomic look-ahead: `(?=(…))\1`), never again from every later X.
 */
export const FORBIDDEN_CONTENT: readonly { readonly name: string; readonly regex: RegExp }[] = [
  {
    name: 'url',
    regex:
      /(?<![a-z0-9+.-])[0-9+.-]*[a-z][a-z0-9+.-]*:\/\/|\bwww\.[a-z0-9-]+\.|^(?:mailto|file|data|javascript):/i,
  },
  {
    name: 'path',
    regex: /(?:^|[\s"'=(,])(?:~?\/[^\s]|\.{1,2}\/)|\.\.[/\\]|\\|^[a-z]:[\\/]|\/[\w.-]+\/[\w.-]/i,
  },
  {
    name: 'sql',
    regex:
      /^(?=([\s\S]*?\bselect\b))\1[\s\S]*\bfrom\b|\binsert\s+into\b|\bupdate\s+\w+\s+set\b|\bdelete\s+from\b|\b(?:drop|alter|truncate|create)\s+(?:table|database|schema|index|view|user)\b|^(?=([\s\S]*?\bunion\b))\2[\s\S]*\bselect\b|\bexec(?:ute)?\s*\(|;\s*\w|--|\/\*|\*\/|\bor\s+['"]?\w+['"]?\s*=\s*['"]?\w+|^(?=([\s\S]*?\bwhere\b))\3[\s\S]*(?:=|\blike\b)/i,
  },
];

/** The name of the first forbidden-content rule `text` trips, if any. */
export function forbiddenContent(text: string): string | undefined {
  for (const rule of FORBIDDEN_CONTENT) if (rule.regex.test(text)) return rule.name;
  return undefined;
}

function describe<T extends z.ZodType>(schema: T, description: string | undefined): T {
  return description === undefined ? schema : schema.describe(description);
}

/**
 * Builds the strict zod schema of one param. Refs are checked here only for their fixed shape;
 * whether this session was issued the ref is checked after the schema (it needs the session).
 */
export function paramSchema(spec: ParamSpec): z.ZodType {
  return match(spec)
    .with({ kind: 'ref' }, (p) =>
      z
        .string()
        .regex(REF_PATTERN)
        .describe(p.description ?? `opaque ref of a ${p.entity}, copied exactly from the view`),
    )
    .with({ kind: 'string' }, (p) => {
      if (p.enum !== undefined) return describe(z.enum(p.enum as [string, ...string[]]), p.description);
      // A declared pattern must match the whole value: JSON Schema patterns are unanchored, and
      // `[A-Za-z ]+` would otherwise accept anything that contains one letter. The length check
      // aborts first: no pattern (the map's own included) ever sees an over-long string.
      const pattern =
        p.pattern === undefined ? DEFAULT_STRING_PATTERN : new RegExp(`^(?:${p.pattern})$`, 'u');
      const s = z
        .string()
        .max(Math.min(p.maxLength, MAX_STRING_LENGTH), { abort: true })
        .regex(pattern)
        .refine((v) => forbiddenContent(v) === undefined, { message: 'FORBIDDEN_CONTENT' });
      return describe(s, p.description);
    })
    .with({ kind: 'integer' }, (p) => {
      let s = z.int();
      if (p.minimum !== undefined) s = s.min(p.minimum);
      if (p.maximum !== undefined) s = s.max(p.maximum);
      if (p.multipleOf !== undefined) s = s.multipleOf(p.multipleOf);
      return describe(s, p.description);
    })
    .with({ kind: 'number' }, (p) => {
      let s = z.number();
      if (p.minimum !== undefined) s = s.min(p.minimum);
      if (p.maximum !== undefined) s = s.max(p.maximum);
      if (p.multipleOf !== undefined) s = s.multipleOf(p.multipleOf);
      return describe(s, p.description);
    })
    .with({ kind: 'boolean' }, (p) => describe(z.boolean(), p.description))
    .exhaustive();
}

/** The strict object schema of an intent's params: every declared param required, no other key. */
export function paramsSchema(params: Readonly<Record<string, ParamSpec>>): z.ZodObject {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, spec] of Object.entries(params)) shape[name] = paramSchema(spec);
  return z.strictObject(shape);
}
