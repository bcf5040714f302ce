import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where the tests look for Chromium: `EDCA_CHROMIUM`, else Debian's package. */
export const CHROMIUM_PATH = process.env.EDCA_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Starts Debian's headless Chromium through playwright-core (nothing is downloaded). Throws with
 * what to do when the browser is missing: a report test never skips silently.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}. The audit report's browser test needs it: ` +
        'run `node --import tsx scripts/ensure-browser.ts` as root (it runs `apt-get install -y chromium`), ' +
        'or set EDCA_CHROMIUM to a Chromium binary.',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // A closed network: without these Chromium keeps trying to reach Google's services.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
