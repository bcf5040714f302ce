/**
 * `pnpm bench`: runs every `bench/*.bench.ts`, one at a time, each in its own Node process (so one
 * suite's heap and JIT state cannot skew the next), passing the arguments through (e.g. `--json`).
 * Add a benchmark by adding a file; nothing here lists them.
 *
 *   pnpm bench                      # every suite, tables
 *   pnpm bench --json               # every suite, one JSON object per line
 *   pnpm bench records journal      # only the suites whose file name contains one of the words
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('-'));
const words = args.filter((a) => !a.startsWith('-'));
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => words.length === 0 || words.some((w) => f.includes(w)))
  .sort();

if (files.length === 0) {
  console.error(`no bench/*.bench.ts file matches ${words.join(', ')}`);
  process.exit(2);
}

let failed = 0;
for (const file of files) {
  if (!flags.includes('--json')) console.log(`\n=== bench/${file}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${dir}${file}`, ...flags], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`bench/${file} failed (exit ${String(r.status ?? r.signal)})`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
