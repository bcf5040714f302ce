import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Creates `path` and any missing parents, like `mkdir -p`, each new folder with `mode`.
 *
 * Not `mkdirSync(path, { recursive: true })`: on a file system that answers ENOENT for a child of
 * an existing folder (`/proc/nope`), Node's recursive mkdir retries for ever at full CPU. Here each
 * level is tried at most twice, so every failure is thrown at once.
 * @throws NodeJS.ErrnoException the first error of the level that failed (ENOTDIR when `path` or a
 *   parent exists and is not a folder)
 */
export function makeDirectory(path: string, mode = 0o777): void {
  try {
    mkdirSync(path, { mode });
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (statSync(path).isDirectory()) return;
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${path}'`), { code: 'ENOTDIR' });
    }
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw err;
  }
  makeDirectory(dirname(path), mode);
  mkdirSync(path, { mode });
}
