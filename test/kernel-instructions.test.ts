// bench/kernel-instructions.ts counts instructions per permit of bench/fixtures/permit-loop.ts under
// valgrind (minutes per round, not run here). What can break without anyone noticing is the loop
// itself (it drives the kernel through its public API, on any checkout's sources) and the runner's
// refusal of bad arguments: both are checked here, natively and in seconds.
import { describe, expect, it } from 'vitest';
import { repoRoot as root, runScript } from './helpers/run-script.js';

const tsx = (args: readonly string[], input?: string) =>
  runScript(args, { timeoutMs: 120_000, ...(input === undefined ? {} : { input }) });

/** What the loop prints at the end, as one line of JSON. */
interface LoopResult {
  warm: number;
  count: number;
  syncs: number;
  seconds: number;
  cpuSeconds: number;
  mainThreadCpuUsPerPermit: number;
  signedOnKernelThread: number;
}

/** Runs the loop on this checkout with `args` after ROOT; it must succeed silently. */
function loop(args: readonly string[]): LoopResult {
  const r = tsx(['bench/fixtures/permit-loop.ts', root, ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout.trim()) as LoopResult;
}

describe('the fixed-count permit loop', () => {
  it('issues exactly the permits asked for, on this checkout’s sources', () => {
    const out = loop(['20', '300']);
    expect(out).toMatchObject({ warm: 20, count: 300 });
    // The counted permits were written in groups, each made durable by one fdatasync.
    expect(Number.isSafeInteger(out.syncs) && out.syncs > 0).toBe(true);
    // Their wall and CPU time: 300 permits take some milliseconds, and far less than the whole run.
    expect(out.seconds).toBeGreaterThan(0);
    expect(out.seconds).toBeLessThan(30);
    expect(out.cpuSeconds).toBeGreaterThan(0);
    // The kernel thread's share of it, from /proc (this suite runs on Linux), in clock ticks of
    // 10 ms: a number, and no more than the whole process's time and a tick for each of user and
    // system time.
    expect(typeof out.mainThreadCpuUsPerPermit).toBe('number');
    expect(out.mainThreadCpuUsPerPermit).toBeGreaterThanOrEqual(0);
    expect(out.mainThreadCpuUsPerPermit * 300).toBeLessThanOrEqual(out.cpuSeconds * 1e6 + 20_000);
    // node:crypto on the kernel's thread (the default): at least one signature per counted permit.
    expect(out.signedOnKernelThread).toBeGreaterThanOrEqual(300);
  });
  it('runs with no signing after the kernel starts with --signer off', () => {
    const out = loop(['20', '300', '--signer', 'off']);
    expect(out.count).toBe(300);
    expect(out.signedOnKernelThread).toBe(0);
    expect(typeof out.mainThreadCpuUsPerPermit).toBe('number');
  });
  it('signs on a worker thread with --signer worker, and stops at each mark until told to go on', () => {
    const r = tsx(
      ['bench/fixtures/permit-loop.ts', root, '20', '300', '--marks', '--signer', 'worker'],
      'go\ngo\n',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual(['mark', 'mark']);
    const out = JSON.parse(lines[2]!) as { warm: number; count: number; syncs: number };
    expect(out).toMatchObject({ warm: 20, count: 300 });
    expect(out.syncs).toBeGreaterThan(0);
  });
  it('fails at a mark when its input ends instead of going on unmeasured', () => {
    const r = tsx(['bench/fixtures/permit-loop.ts', root, '20', '30', '--marks'], '');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/standard input closed at a mark/);
  });
  it.each([[[]], [[root, 'x', '10']], [[root, '10', '-1']], [[root, '10', '10', '--signer', 'sodium']]])(
    'refuses arguments %j it cannot run',
    (args) => {
      const r = tsx(['bench/fixtures/permit-loop.ts', ...args]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/usage: permit-loop\.ts ROOT WARM COUNT/);
    },
  );
});

describe('bench/kernel-instructions.ts', () => {
  it.each([
    ['--rounds=0', /--rounds must be a positive integer/],
    ['--count=-5', /--count must be a positive integer/],
    ['--warm=x', /--warm must be a non-negative integer/],
    ['--bogus', /Unknown option '--bogus'/],
    ['--signer=sodium', /--signer must be node or worker/],
    ['--against=/nonexistent', /\/nonexistent is not an edca checkout/],
    [`--against=${root}`, /--against names this checkout/],
  ])('refuses %s with exit code 2', (arg, message) => {
    const r = tsx(['bench/kernel-instructions.ts', arg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kernel-instructions: /);
    expect(r.stderr).toMatch(message);
  });
});
