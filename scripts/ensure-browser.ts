// Makes sure Debian's Chromium is there for the audit report's browser test, installing it with
// apt-get when this runs as root on Debian. It never fails the run by itself: if the browser
// cannot be had, the browser test fails and says why (never a silent skip).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const path = process.env.EDCA_CHROMIUM ?? '/usr/bin/chromium';
if (existsSync(path)) process.exit(0);
const canApt = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
if (!canApt) {
  process.stderr.write(
    `ensure-browser: no Chromium at ${path}; install it (Debian: apt-get install chromium) or set EDCA_CHROMIUM.\n`,
  );
  process.exit(0);
}
process.stderr.write('ensure-browser: installing Debian chromium for the audit report test (apt-get)…\n');
try {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  });
} catch (err) {
  process.stderr.write(
    `ensure-browser: apt-get failed: ${err instanceof Error ? err.message : String(err)}\n`,
  );
}
