/**
 * `pnpm bench`: runs every `bench/*.bench.ts`, one at a time, each in its own Node process (so one
 * suite's heap and JIT state cannot skew the next), passing the arguments through (e.g. `--json`).
 * Add a benchmark by adding a file; nothing here lists them.
 *
 *   pnpm bench                      # every suite, tables
 *   pnpm bench --json               # every suite, one JSON object per line
 *   pnpm bench records journal      # only the suites whose file name contains one of the words
 *   pnpm bench kernel audit --save  # also keeps each suite's JSON in bench/results/ (raw runs, history)
 *
 * Options with a value pass through as `--name=value`; a bare word is a suite filter, and one that
 * matches no suite is refused (exit code 2).
 * `--save` runs the suites with `--json` and writes one file per suite and run,
 * `bench/results/<suite>-<UTC time>.json`: the command, the commit, the load average before and
 * after, and the suite's JSON output as it printed it. docs/benchmarks.md quotes the latest ones.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { saveAndSay } from './save.js';

const dir = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const save = args.includes('--save');
const flags = args.filter((a) => a.startsWith('-') && a !== '--save');
if (save && !flags.includes('--json')) flags.push('--json');
const words = args.filter((a) => !a.startsWith('-'));
const suites = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort();
const files = suites.filter((f) => words.length === 0 || words.some((w) => f.includes(w)));

// A word that names no suite is refused, not ignored: it is most often the value of an option
// written as two words (`--cpu-prof DIR`), which would otherwise be dropped without a word.
const unmatched = words.filter((w) => !suites.some((f) => f.includes(w)));
if (files.length === 0 || unmatched.length > 0) {
  console.error(
    `no bench/*.bench.ts file matches ${(unmatched.length > 0 ? unmatched : words).join(', ')}` +
      ' (an option with a value is written --name=value)',
  );
  process.exit(2);
}

/** The JSON objects a suite printed, one a line (other lines are ignored). */
function jsonLines(stdout: string): unknown[] {
  const out: unknown[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a table line that happens to start with a brace
    }
  }
  return out;
}

let failed = 0;
for (const file of files) {
  if (!flags.includes('--json')) console.log(`\n=== bench/${file}`);
  const suite = file.slice(0, -'.bench.ts'.length);
  const startedAt = new Date();
  const loadBefore = loadavg();
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${dir}${file}`, ...flags], {
    stdio: ['inherit', save ? 'pipe' : 'inherit', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (save) process.stdout.write(r.stdout ?? '');
  if (r.status !== 0) {
    failed++;
    console.error(`bench/${file} failed (exit ${String(r.status ?? r.signal)})`);
    continue;
  }
  if (save) {
    const results = jsonLines(r.stdout ?? '');
    if (results.length === 0) {
      failed++;
      console.error(`bench/${file} printed no JSON with --json: nothing saved`);
      continue;
    }
    saveAndSay({
      suite,
      command: ['pnpm bench', suite, ...flags.filter((f) => f !== '--json'), '--save'].join(' '),
      startedAt,
      loadBefore,
      results,
    });
  }
}
process.exitCode = failed === 0 ? 0 : 1;
