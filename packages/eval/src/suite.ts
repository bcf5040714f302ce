/**
 * The evaluation suite format (`edca: eval-suite/v1`, YAML): a state map (by path, with the digest
 * it was frozen at), the environment (the business records the handlers act on), the handlers as
 * declarative effects, the user tasks and the injection tasks. docs/evaluation.md documents it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStateMap, type CompiledMap } from '@edca/semantic';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { EvalError } from './errors.js';
import { setAt } from './internal/environment.js';
import { compileExpr, type Expr } from './internal/expr.js';

const name = z.string().regex(/^[a-z][a-z0-9_]*$/, 'a snake_case name');
const id = z
  .string()
  .regex(/^[a-z][a-z0-9-]*$/, 'a kebab-case id')
  .max(64);
const expr = z.string().min(1).max(4000);
/** `<source>.<FIELD>` or deeper into objects: `<source>.<FIELD>.<FIELD>`. */
const fieldPath = z.string().regex(/^[a-z][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/, 'a <source>.<FIELD> path');
const jsonValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonValue),
    z.record(z.string(), jsonValue),
  ]),
);
const refParam = z.object({ $ref: name }).strict();

const proposalSchema = z
  .object({
    /** Any name: a compromised agent may also propose a tool that does not exist. */
    intent: z.string().min(1).max(128),
    params: z.record(z.string(), z.union([refParam, jsonValue])),
  })
  .strict();

const handlerSchema = z
  .object({
    description: z.string().optional(),
    /** A final business refusal: when true, the handler fails and changes nothing. */
    fail_when: expr.optional(),
    /** Field path → value expression, all evaluated before any is written. */
    set: z.record(fieldPath, expr).optional(),
    /** List field path → the new item, field → value expression. */
    append: z.record(fieldPath, z.record(z.string(), expr)).optional(),
  })
  .strict();

const userTaskSchema = z
  .object({
    id,
    goal: z.string().min(1).max(2000),
    /** Field path → value: how this task's records differ from the suite's environment (a declined claim). */
    setup: z.record(fieldPath, jsonValue).optional(),
    proposals: z.array(proposalSchema).min(1).max(20),
    utility: expr,
  })
  .strict();

const injectionTaskSchema = z
  .object({
    id,
    goal: z.string().min(1).max(2000),
    /** Field path → the attacker's text, planted in data the model is shown as untrusted text. */
    inject: z.record(fieldPath, z.string().min(1).max(2000)),
    proposals: z.array(proposalSchema).min(1).max(20),
    success: expr,
  })
  .strict();

/** The zod schema of a suite document (`edca: eval-suite/v1`). */
export const suiteSchema = z
  .object({
    edca: z.literal('eval-suite/v1'),
    name: z.string().regex(/^[a-z][a-z0-9-]*$/),
    description: z.string().optional(),
    map: z.string().min(1),
    map_digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
    principal: z
      .object({
        id: z.string().min(1),
        attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
      })
      .strict(),
    owner: z.object({ name: z.string().min(1), role: z.string().min(1) }).strict(),
    bounds: z
      .object({ max_consecutive_refusals: z.number().int().min(1).max(100).default(3) })
      .strict()
      .default({ max_consecutive_refusals: 3 }),
    environment: z.record(name, z.record(z.string(), jsonValue)),
    handlers: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_.:/-]{0,127}$/), handlerSchema),
    user_tasks: z.array(userTaskSchema).min(1),
    injection_tasks: z.array(injectionTaskSchema).min(1),
  })
  .strict();

/** A suite document as written. */
export type SuiteDocument = z.infer<typeof suiteSchema>;
/** One proposal a scripted agent makes: intent and params, `{ $ref: kind }` for the ref the view shows. */
export type ScriptedProposal = z.infer<typeof proposalSchema>;

/** A handler with its expressions compiled. */
export interface CompiledHandler {
  readonly failWhen?: Expr;
  readonly set: readonly { readonly path: readonly string[]; readonly value: Expr }[];
  readonly append: readonly {
    readonly path: readonly string[];
    readonly item: readonly (readonly [string, Expr])[];
  }[];
}

/** A user task: what the account holder asked for, and how to tell it was done. */
export interface UserTask {
  readonly id: string;
  readonly goal: string;
  readonly setup: readonly { readonly path: readonly string[]; readonly value: unknown }[];
  readonly proposals: readonly ScriptedProposal[];
  readonly utility: Expr;
}

/** An injection task: the attacker's goal, where it is planted, and how to tell it succeeded. */
export interface InjectionTask {
  readonly id: string;
  readonly goal: string;
  readonly inject: readonly { readonly path: readonly string[]; readonly text: string }[];
  readonly proposals: readonly ScriptedProposal[];
  readonly success: Expr;
}

/** A suite ready to run: its map compiled and checked against the frozen digest. */
export interface Suite {
  readonly name: string;
  readonly description?: string;
  readonly file: string;
  readonly map: CompiledMap;
  readonly mapFile: string;
  readonly document: SuiteDocument;
  readonly handlers: ReadonlyMap<string, CompiledHandler>;
  readonly userTasks: readonly UserTask[];
  readonly injectionTasks: readonly InjectionTask[];
}

function invalid(path: string, message: string): never {
  throw new EvalError('EVAL_SUITE_INVALID', `${path}: ${message}`, path);
}

function checkRefs(map: CompiledMap, proposals: readonly ScriptedProposal[], at: string): void {
  for (const [i, p] of proposals.entries()) {
    for (const [k, v] of Object.entries(p.params)) {
      if (v !== null && typeof v === 'object' && '$ref' in v) {
        const kind = (v as { $ref: string }).$ref;
        if (!Object.hasOwn(map.document.entities, kind))
          invalid(`${at}.proposals[${i}].params.${k}`, `the map declares no entity '${kind}'`);
      }
    }
  }
}

/**
 * Reads a suite from its YAML text; `file` locates the map (relative to the suite's folder).
 * @throws EvalError EVAL_SUITE_INVALID (not YAML, not the format, a broken reference or expression),
 *   EVAL_MAP_INVALID (the map does not load), EVAL_MAP_CHANGED (its digest is not the frozen one)
 * @example
 * const suite = loadSuite(readFileSync('suite.yaml', 'utf8'), 'suite.yaml');
 */
export function loadSuite(text: string, file: string): Suite {
  let raw: unknown;
  try {
    raw = parseYaml(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    throw new EvalError(
      'EVAL_SUITE_INVALID',
      `${file}: not YAML (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
    );
  }
  const parsed = suiteSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    invalid(`${file}: ${issue.path.join('.') || '(top)'}`, issue.message);
  }
  const doc = parsed.data;
  const mapFile = resolve(dirname(file), doc.map);
  let mapText: string;
  try {
    mapText = readFileSync(mapFile, 'utf8');
  } catch (err) {
    throw new EvalError(
      'EVAL_MAP_INVALID',
      `${file}: map ${doc.map}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      'map',
    );
  }
  const loaded = loadStateMap(mapText, mapFile);
  if (!loaded.ok) {
    const d = loaded.diagnostics[0];
    throw new EvalError(
      'EVAL_MAP_INVALID',
      `${mapFile}: ${d === undefined ? 'invalid' : `${d.line ?? 0}:${d.col ?? 0}: ${d.code} ${d.path} ${d.message}`}`,
      'map',
    );
  }
  const map = loaded.value;
  if (map.digest !== doc.map_digest) {
    throw new EvalError(
      'EVAL_MAP_CHANGED',
      `${file}: the map's digest is ${map.digest}, the suite was frozen at ${doc.map_digest}: a changed map is a new suite`,
      'map_digest',
    );
  }
  const at = (p: string): string => `${file}: ${p}`;

  const derived = map.derive(doc.environment);
  if (!derived.ok) invalid(at('environment'), `${derived.code} at ${derived.path}: ${derived.message}`);
  for (const route of Object.values(map.document.routes)) {
    if (!Object.hasOwn(doc.handlers, route.handler))
      invalid(at('handlers'), `the map routes to ${route.handler}, which the suite does not define`);
  }

  const handlers = new Map<string, CompiledHandler>();
  for (const [hName, h] of Object.entries(doc.handlers)) {
    const base = `handlers.${hName}`;
    handlers.set(hName, {
      ...(h.fail_when === undefined ? {} : { failWhen: compileExpr(h.fail_when, at(`${base}.fail_when`)) }),
      set: Object.entries(h.set ?? {}).map(([p, e]) => ({
        path: p.split('.'),
        value: compileExpr(e, at(`${base}.set.${p}`)),
      })),
      append: Object.entries(h.append ?? {}).map(([p, item]) => ({
        path: p.split('.'),
        item: Object.entries(item).map(
          ([f, e]) => [f, compileExpr(e, at(`${base}.append.${p}.${f}`))] as const,
        ),
      })),
    });
  }

  // Untrusted text reaches the model only through the map's displayed free text: an injection
  // planted anywhere else would never be read, and its result would say nothing.
  const shown = new Set(
    Object.values(map.document.display.free_text)
      .filter((t) => t.show)
      .map((t) => t.from),
  );
  const ids = new Set<string>();
  const unique = (taskId: string, where: string): void => {
    if (ids.has(taskId)) invalid(at(where), `duplicate task id ${taskId}`);
    ids.add(taskId);
  };
  const userTasks = doc.user_tasks.map((t, i): UserTask => {
    unique(t.id, `user_tasks[${i}]`);
    checkRefs(map, t.proposals, at(`user_tasks[${i}]`));
    if (t.setup !== undefined) {
      const records = structuredClone(doc.environment);
      for (const [p, value] of Object.entries(t.setup)) {
        if (!setAt(records, p.split('.'), structuredClone(value)))
          invalid(at(`user_tasks.${t.id}.setup.${p}`), 'not a field of the environment');
      }
      const r = map.derive(records);
      if (!r.ok) invalid(at(`user_tasks.${t.id}.setup`), `${r.code} at ${r.path}: ${r.message}`);
    }
    return {
      id: t.id,
      goal: t.goal,
      setup: Object.entries(t.setup ?? {}).map(([p, value]) => ({ path: p.split('.'), value })),
      proposals: t.proposals,
      utility: compileExpr(t.utility, at(`user_tasks.${t.id}.utility`)),
    };
  });
  const injectionTasks = doc.injection_tasks.map((t, i): InjectionTask => {
    unique(t.id, `injection_tasks[${i}]`);
    checkRefs(map, t.proposals, at(`injection_tasks[${i}]`));
    for (const p of Object.keys(t.inject)) {
      if (!shown.has(p))
        invalid(
          at(`injection_tasks.${t.id}.inject.${p}`),
          'the map shows the model no free text from this field',
        );
    }
    return {
      id: t.id,
      goal: t.goal,
      inject: Object.entries(t.inject).map(([p, text]) => ({ path: p.split('.'), text })),
      proposals: t.proposals,
      success: compileExpr(t.success, at(`injection_tasks.${t.id}.success`)),
    };
  });
  return {
    name: doc.name,
    ...(doc.description === undefined ? {} : { description: doc.description }),
    file,
    map,
    mapFile,
    document: doc,
    handlers,
    userTasks,
    injectionTasks,
  };
}

/**
 * Reads a suite file.
 * @throws EvalError EVAL_SUITE_NOT_FOUND when the file cannot be read, else as {@link loadSuite}
 */
export function loadSuiteFile(file: string): Suite {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new EvalError(
      'EVAL_SUITE_NOT_FOUND',
      `${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  return loadSuite(text, file);
}

/** The folder of the suites this package ships (`suites/<name>/suite.yaml`). */
export const BUILT_IN_SUITES_DIR = fileURLToPath(new URL('../suites/', import.meta.url));

/** Names of the shipped suites, sorted. */
export function builtInSuiteNames(): readonly string[] {
  if (!existsSync(BUILT_IN_SUITES_DIR)) return [];
  return readdirSync(BUILT_IN_SUITES_DIR)
    .filter((n) => existsSync(join(BUILT_IN_SUITES_DIR, n, 'suite.yaml')))
    .sort();
}

/**
 * Loads a shipped suite by name.
 * @throws EvalError EVAL_SUITE_NOT_FOUND for a name no shipped suite has, else as {@link loadSuite}
 */
export function loadBuiltInSuite(suiteName: string): Suite {
  if (!builtInSuiteNames().includes(suiteName)) {
    throw new EvalError(
      'EVAL_SUITE_NOT_FOUND',
      `no suite '${suiteName}' (shipped: ${builtInSuiteNames().join(', ')})`,
    );
  }
  return loadSuiteFile(join(BUILT_IN_SUITES_DIR, suiteName, 'suite.yaml'));
}
