import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveWorkerModule } from '../src/worker-module.js';

/** A package at `root/name` with `src/internal/caller.ts`, `src/internal/w.ts` and, if asked, a build. */
function makePackage(root: string, name: string, deps: Record<string, string> = {}): string {
  const dir = join(root, 'node_modules', '@edca', name);
  mkdirSync(join(dir, 'src', 'internal'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `@edca/${name}`, dependencies: deps }));
  writeFileSync(join(dir, 'src', 'internal', 'caller.ts'), 'export {};\n');
  writeFileSync(join(dir, 'src', 'internal', 'w.ts'), 'export {};\n');
  return dir;
}

function build(dir: string, atSec: number): void {
  mkdirSync(join(dir, 'dist', 'internal'), { recursive: true });
  for (const f of ['caller.js', 'w.js']) {
    const file = join(dir, 'dist', 'internal', f);
    writeFileSync(file, 'export {};\n');
    utimesSync(file, atSec, atSec);
  }
}

function touchSources(dir: string, atSec: number): void {
  for (const f of ['caller.ts', 'w.ts']) utimesSync(join(dir, 'src', 'internal', f), atSec, atSec);
}

describe('resolveWorkerModule', () => {
  const roots: string[] = [];
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  });
  const T = 1_800_000_000;

  it('runs the fresh build of a source caller, and the sources when there is no build', () => {
    const root = mkdtempSync(join(tmpdir(), 'edca-wm-'));
    roots.push(root);
    const dir = makePackage(root, 'p');
    touchSources(dir, T);
    build(dir, T + 10);
    const r = resolveWorkerModule(pathToFileURL(join(dir, 'src', 'internal', 'caller.ts')).href, './w');
    expect(r.via).toBe('build');
    expect(r.url.pathname.endsWith('/dist/internal/w.js')).toBe(true);
    // An output whose source was deleted since does not make a fresh build stale.
    const orphaned = makePackage(root, 'o');
    touchSources(orphaned, T);
    build(orphaned, T + 10);
    writeFileSync(join(orphaned, 'dist', 'internal', 'gone.js'), 'export {};\n');
    utimesSync(join(orphaned, 'dist', 'internal', 'gone.js'), T - 10, T - 10);
    expect(
      resolveWorkerModule(pathToFileURL(join(orphaned, 'src', 'internal', 'caller.ts')).href, './w').via,
    ).toBe('build');
    // No build at all: the sources.
    const unbuilt = makePackage(root, 'u');
    expect(
      resolveWorkerModule(pathToFileURL(join(unbuilt, 'src', 'internal', 'caller.ts')).href, './w').via,
    ).toBe('tsx');
  });

  it('does not run a build older than its sources or than a dependency’s sources', () => {
    const root = mkdtempSync(join(tmpdir(), 'edca-wm-'));
    roots.push(root);
    const dep = makePackage(root, 'dep');
    const dir = makePackage(root, 'q', { '@edca/dep': 'workspace:*' });
    touchSources(dir, T);
    build(dir, T + 10);
    touchSources(dep, T);
    // The dependency has no build: its sources may differ from anything built.
    expect(
      resolveWorkerModule(pathToFileURL(join(dir, 'src', 'internal', 'caller.ts')).href, './w').via,
    ).toBe('tsx');
    const stale = makePackage(root, 's');
    touchSources(stale, T + 20);
    build(stale, T + 10);
    expect(
      resolveWorkerModule(pathToFileURL(join(stale, 'src', 'internal', 'caller.ts')).href, './w').via,
    ).toBe('tsx');
  });

  it('looks at the dependencies of dependencies too', () => {
    const root = mkdtempSync(join(tmpdir(), 'edca-wm-'));
    roots.push(root);
    const leaf = makePackage(root, 'leaf');
    const mid = makePackage(root, 'mid', { '@edca/leaf': 'workspace:*' });
    const top = makePackage(root, 'top', { '@edca/mid': 'workspace:*' });
    const fresh = makePackage(root, 'fresh', { '@edca/mid': 'workspace:*' });
    for (const dir of [leaf, mid, top, fresh]) {
      touchSources(dir, T);
      build(dir, T + 10);
    }
    const via = (dir: string) =>
      resolveWorkerModule(pathToFileURL(join(dir, 'src', 'internal', 'caller.ts')).href, './w').via;
    expect(via(fresh)).toBe('build');
    // The leaf changed after its build: `top` reaches it only through `mid`.
    touchSources(leaf, T + 20);
    expect(via(top)).toBe('tsx');
  });

  it('runs the .js beside a built caller', () => {
    const r = resolveWorkerModule('file:///x/dist/internal/caller.js', './w');
    expect(r).toEqual({ url: new URL('file:///x/dist/internal/w.js'), via: 'module' });
  });
});
