import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** The version of the `@edca/cli` package. */
export const VERSION = (require('../package.json') as { version: string }).version;
