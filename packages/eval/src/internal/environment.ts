// The in-memory environment a run acts on: the suite's records, copied fresh for every run, and
// the handlers as declarative effects on them (set fields, append list items, or refuse).
import type { CompiledHandler } from '../suite.js';
import { evalBool, evalValue, toCel } from './expr.js';

/** Business records by source name, as JSON. */
export type Environment = Record<string, Record<string, unknown>>;

/** A deep copy: every run starts from the suite's records as written. */
export function cloneEnvironment(
  env: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
): Environment {
  return structuredClone(env);
}

function parentOf(env: Environment, path: readonly string[]): Record<string, unknown> | undefined {
  let at: unknown = env;
  for (const key of path.slice(0, -1)) {
    if (at === null || typeof at !== 'object' || Array.isArray(at)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at !== null && typeof at === 'object' && !Array.isArray(at)
    ? (at as Record<string, unknown>)
    : undefined;
}

/** Writes `value` at `path` (`[source, FIELD, …]`); false when the path does not lead to a record. */
export function setAt(env: Environment, path: readonly string[], value: unknown): boolean {
  const parent = parentOf(env, path);
  if (parent === undefined) return false;
  parent[path[path.length - 1]!] = value;
  return true;
}

/** The bindings checks and effects read: every source by name, plus `call` when a handler runs. */
export function bindingsOf(
  env: Environment,
  call?: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const b = toCel(env) as Record<string, unknown>;
  if (call !== undefined) b['call'] = toCel(call);
  return b;
}

/** Why a handler changed nothing: its `fail_when` held (a business refusal) or an effect's path is not there. */
export class EffectFailed extends Error {
  override readonly name = 'EffectFailed';
}

/**
 * Runs a handler's effects on `env`: `fail_when` first, then every value computed from the records
 * as they were, then all written (a handler is one atomic change, like one database transaction).
 * @throws EffectFailed when `fail_when` holds or a path leads nowhere; EvalError EVAL_CHECK_ERROR for a broken expression
 */
export function applyEffects(
  handler: CompiledHandler,
  env: Environment,
  call: Readonly<Record<string, unknown>>,
): void {
  const b = bindingsOf(env, call);
  if (handler.failWhen !== undefined && evalBool(handler.failWhen, b))
    throw new EffectFailed(`refused by ${handler.failWhen.text}`);
  const sets = handler.set.map((s) => [s.path, evalValue(s.value, b)] as const);
  const appends = handler.append.map(
    (a) => [a.path, Object.fromEntries(a.item.map(([f, e]) => [f, evalValue(e, b)]))] as const,
  );
  for (const [path] of appends) {
    const parent = parentOf(env, path);
    if (!Array.isArray(parent?.[path[path.length - 1]!]))
      throw new EffectFailed(`${path.join('.')} is not a list`);
  }
  for (const [path] of sets) {
    if (parentOf(env, path) === undefined) throw new EffectFailed(`${path.join('.')} is not a field`);
  }
  for (const [path, value] of sets) setAt(env, path, value);
  for (const [path, item] of appends) (parentOf(env, path)![path[path.length - 1]!] as unknown[]).push(item);
}
