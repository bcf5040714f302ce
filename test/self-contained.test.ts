// A clone must run its tests with nothing beside it: no file may reach outside the repository
// (a sibling folder or an absolute path of the machine the code was written on), and the
// conformance vectors kept in test/vectors/ must be the upstream bytes listed in SHA256SUMS.txt.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VECTORS = join(ROOT, 'test', 'vectors');

// Built from parts so this file does not match its own patterns.
const SIBLING = new RegExp(String.raw`\.\.[/\\]` + 'shared' + String.raw`\b`);
const ABSOLUTE = new RegExp(String.raw`(?<![\w.~/-])/` + 'work' + String.raw`/`);

/** Tracked files (git), or every file outside node_modules/dist/.git when there is no git. */
function repoFiles(): string[] {
  try {
    return execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
      .split('\0')
      .filter((f) => f.length > 0);
  } catch {
    return readdirSync(ROOT, { recursive: true, encoding: 'utf8' })
      .map((f) => f.split(sep).join('/'))
      .filter((f) => !/(^|\/)(node_modules|dist|\.git)(\/|$)/.test(f));
  }
}

/** Source, test, bench, script and doc files: the ones that could name a path. */
const TEXT = /\.(ts|js|mjs|cjs|json|ya?ml|md|sh)$|(^|\/)\.ci\/|(^|\/)\.[\w-]+ignore$/;

export function outsideReferences(files: readonly string[], read: (f: string) => string): string[] {
  const hits: string[] = [];
  for (const file of files) {
    if (!TEXT.test(file) || file.startsWith('test/vectors/') || file === 'pnpm-lock.yaml') continue;
    let text: string;
    try {
      text = read(file);
    } catch {
      continue; // deleted in the work tree but still tracked
    }
    text.split('\n').forEach((line, i) => {
      if (SIBLING.test(line) || ABSOLUTE.test(line)) hits.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  return hits;
}

describe('the repository is self-contained', () => {
  it('has no tracked file that reaches a sibling shared folder or an absolute /work path', () => {
    const hits = outsideReferences(repoFiles(), (f) => readFileSync(join(ROOT, f), 'utf8'));
    expect(hits).toEqual([]);
  });

  it('the guard catches both kinds of reference (and not look-alikes)', () => {
    const files: Record<string, string> = {
      'packages/x/test/a.ts': "new URL('../../../../" + "shared/vectors/x.json', import.meta.url)",
      'bench/b.ts': "readFileSync('/" + "work/main/data.json')",
      'docs/c.md': 'a shared suite; https://example.org/' + 'work/ is a URL; ~/' + 'work/ is not ours',
    };
    const hits = outsideReferences(Object.keys(files), (f) => files[f] ?? '');
    expect(hits.map((h) => h.split(':')[0])).toEqual(['packages/x/test/a.ts', 'bench/b.ts']);
  });

  it('keeps every conformance vector byte-identical to the upstream file listed in SHA256SUMS.txt', () => {
    const sums = readFileSync(join(VECTORS, 'SHA256SUMS.txt'), 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => {
        const [sha = '', size = '', path = ''] = l.split(/\s+/);
        return { sha, size: Number(size), path: path.replace(/^\.\//, '') };
      });
    const listed = new Set(sums.map((s) => s.path));
    const present = readdirSync(VECTORS, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => relative(VECTORS, join(d.parentPath, d.name)).split(sep).join('/'))
      .filter((f) => f !== 'SHA256SUMS.txt' && f !== 'README.md');
    expect(present.filter((f) => !listed.has(f))).toEqual([]);
    for (const { sha, size, path } of sums) {
      const bytes = readFileSync(join(VECTORS, path));
      expect({ path, size: bytes.length, sha: createHash('sha256').update(bytes).digest('hex') }).toEqual({
        path,
        size,
        sha,
      });
    }
  });
});
