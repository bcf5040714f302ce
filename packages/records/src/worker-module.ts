/**
 * Starting a worker thread from a TypeScript module of an edca package, both from the built
 * package (the CLI and every consumer run `dist/*.js`) and from the sources (tests under vitest,
 * benchmarks under tsx). From the sources the worker registers tsx itself with the workspace's
 * tsconfig.json, whose `paths` resolve `@edca/*` to their `src/index.ts`, so it runs the very code
 * under test rather than a possibly stale build.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
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

/**
 * Starts `specifier` (a path without extension, relative to `callerUrl`) as a worker thread: the
 * `.js` file beside a built caller, or the `.ts` file beside a source caller, run through tsx.
 * @throws Error when the caller runs from sources and tsx cannot be found
 * @example
 * const worker = startWorkerModule(import.meta.url, './internal/seal-worker', { workerData });
 */
export function startWorkerModule(callerUrl: string, specifier: string, options: WorkerOptions = {}): Worker {
  const fromSource = callerUrl.endsWith('.ts');
  const url = new URL(`${specifier}${fromSource ? '.ts' : '.js'}`, callerUrl);
  if (!fromSource) return new Worker(url, options);
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
