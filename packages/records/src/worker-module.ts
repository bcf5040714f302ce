/**
 * Starting a worker thread from a TypeScript module of an edca package, both from the built
 * package (the CLI and every consumer run `dist/*.js`) and from the sources (tests under vitest,
 * benchmarks under tsx).
 *
 * From the sources, the worker runs the built `.js` of the same module when that build is fresh:
 * its package and every `@edca/*` package it depends on, directly or not, were built after their
 * newest source file was written. Otherwise the worker registers tsx itself with the workspace's tsconfig.json, whose
 * `paths` resolve `@edca/*` to their `src/index.ts`, so it never runs a stale build. Registering tsx
 * in a worker costs a loader thread and a compile of the module graph, for every worker started:
 * an audit starts a pool per journal, so a fresh build is what keeps that out of its cost.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** The nearest tsconfig.json above a source file: the workspace's, which maps `@edca/*` to sources. */
function tsconfigAbove(file: string): string | false {
  for (let dir = dirname(file); ;) {
    const candidate = join(dir, 'tsconfig.json');
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) return false;
    dir = up;
  }
}

/** Which file a worker started from `specifier` runs, and how. */
export interface WorkerModuleFile {
  readonly url: URL;
  /** `module`: the caller is built; `build`: a fresh build of a source caller; `tsx`: the sources. */
  readonly via: 'module' | 'build' | 'tsx';
}

/**
 * The file `startWorkerModule(callerUrl, specifier)` runs: the `.js` beside a built caller; for a
 * source caller the `.js` of a fresh build, else the `.ts` itself (through tsx).
 * @example if (resolveWorkerModule(url, './internal/seal-worker').via === 'tsx') warnSlowStart();
 */
export function resolveWorkerModule(callerUrl: string, specifier: string): WorkerModuleFile {
  if (!callerUrl.endsWith('.ts')) return { url: new URL(`${specifier}.js`, callerUrl), via: 'module' };
  const url = new URL(`${specifier}.ts`, callerUrl);
  const built = freshBuildOf(fileURLToPath(url));
  return built === undefined ? { url, via: 'tsx' } : { url: pathToFileURL(built), via: 'build' };
}

/**
 * Starts `specifier` (a path without extension, relative to `callerUrl`) as a worker thread: the
 * `.js` file beside a built caller, or for a source caller the fresh build of the `.ts` file beside
 * it, else that `.ts` file run through tsx.
 * @throws Error when the sources must run and tsx cannot be found
 * @example
 * const worker = startWorkerModule(import.meta.url, './internal/seal-worker', { workerData });
 */
export function startWorkerModule(callerUrl: string, specifier: string, options: WorkerOptions = {}): Worker {
  const { url, via } = resolveWorkerModule(callerUrl, specifier);
  if (via !== 'tsx') return new Worker(url, options);
  let tsxApi: string;
  try {
    const root = dirname(createRequire(callerUrl).resolve('tsx/package.json'));
    tsxApi = pathToFileURL(join(root, 'dist', 'esm', 'api', 'index.mjs')).href;
  } catch {
    throw new Error('running edca workers from TypeScript sources needs the tsx package');
  }
  const tsconfig = tsconfigAbove(fileURLToPath(callerUrl));
  // Loader hooks registered in the main thread do not reach a worker (Node 20): it registers its own.
  const boot = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register({ tsconfig: ${JSON.stringify(tsconfig)} }); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(boot, { ...options, eval: true });
}

// ---- the fresh build of a source module ---------------------------------------------------------

/** The directory of the package.json nearest above `file`, or undefined. */
function packageRootAbove(file: string): string | undefined {
  for (let dir = dirname(file); ;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The `.ts` files under `dir` (recursively), or undefined when it cannot be read. */
function sourcesUnder(dir: string): string[] | undefined {
  try {
    return readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
      .map((e) => join(e.parentPath, e.name));
  } catch {
    return undefined;
  }
}

/**
 * Whether the package at `root` has a build newer than its sources: every `src/x.ts` has its
 * `dist/x.js`, written after the newest source changed. (Outputs of deleted sources may linger in
 * `dist`; they are not asked about.)
 */
function builtAfterSources(root: string): boolean {
  const src = join(root, 'src');
  const sources = sourcesUnder(src);
  if (sources === undefined || sources.length === 0) return false;
  const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
  return sources.every((f) => {
    const out = join(root, 'dist', f.slice(src.length + 1).replace(/\.ts$/, '.js'));
    return existsSync(out) && statSync(out).mtimeMs >= newest;
  });
}

/** The `@edca/*` packages `root`'s package.json depends on, as their real directories. */
function edcaDependencies(root: string): string[] | undefined {
  try {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    const require = createRequire(join(root, 'package.json'));
    return Object.keys(manifest.dependencies ?? {})
      .filter((name) => name.startsWith('@edca/'))
      .map((name) => dirname(realpathSync(require.resolve(`${name}/package.json`))));
  } catch {
    return undefined;
  }
}

/** `root` and every `@edca/*` package it depends on, directly or not; undefined when one cannot be found. */
function withEdcaDependencies(root: string): string[] | undefined {
  const found = new Set<string>([root]);
  for (const dir of found) {
    const deps = edcaDependencies(dir);
    if (deps === undefined) return undefined;
    for (const d of deps) found.add(d);
  }
  return [...found];
}

const freshBuilds = new Map<string, string | undefined>();

/**
 * The built `dist/…/x.js` of the source module `sourceFile` (`src/…/x.ts`) when it exists and its
 * package and the `@edca/*` packages that one depends on (transitively) were built after their
 * sources last changed; undefined otherwise.
 * Checked once per module per process.
 */
function freshBuildOf(sourceFile: string): string | undefined {
  if (freshBuilds.has(sourceFile)) return freshBuilds.get(sourceFile);
  let built: string | undefined;
  const root = packageRootAbove(sourceFile);
  const src = root === undefined ? undefined : join(root, 'src');
  if (root !== undefined && src !== undefined && sourceFile.startsWith(src + sep)) {
    const candidate = join(root, 'dist', sourceFile.slice(src.length + 1).replace(/\.ts$/, '.js'));
    const packages = withEdcaDependencies(root);
    if (existsSync(candidate) && packages !== undefined && packages.every(builtAfterSources))
      built = candidate;
  }
  freshBuilds.set(sourceFile, built);
  return built;
}
