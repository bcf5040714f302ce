import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import workspace packages from source, so no build is needed to run them.
const pkg = (name: string): string =>
  fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));
const testing: [string, string] = [
  '@edca/kernel/testing',
  fileURLToPath(new URL('./packages/kernel/src/testing/index.ts', import.meta.url)),
];
const ed25519: [string, string] = [
  '@edca/records/ed25519',
  fileURLToPath(new URL('./packages/records/src/ed25519.ts', import.meta.url)),
];
const alias: Record<string, string> = Object.fromEntries<string>([
  // Before `@edca/kernel`, which would otherwise match it as a prefix.
  testing,
  ed25519,
  ...[
    'records',
    'semantic',
    'ledger',
    'arp',
    'kernel',
    'audit',
    'policy',
    'store-postgres',
    'models',
    'mcp',
    'eval',
    'cli',
  ].map((n): [string, string] => [`@edca/${n}`, pkg(n)]),
]);

export default defineConfig({
  resolve: { alias },
  test: {
    // A stray console.* in a test run is a bug (zod's habit): see test/setup.ts.
    setupFiles: [fileURLToPath(new URL('./test/setup.ts', import.meta.url))],
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/*.slow.test.ts', '**/node_modules/**'],
          setupFiles: [fileURLToPath(new URL('./test/setup.ts', import.meta.url))],
          testTimeout: 30_000,
          // Vitest's default is one worker fewer than the cores: a single worker on a 2-core
          // machine, which leaves a core idle whenever a file waits on its child processes or
          // PostgreSQL. The unit files are independent (own temp dirs, ports and databases).
          maxWorkers: Math.max(2, availableParallelism() - 1),
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'slow',
          include: ['packages/*/test/**/*.slow.test.ts', 'test/**/*.slow.test.ts'],
          setupFiles: [fileURLToPath(new URL('./test/setup.ts', import.meta.url))],
          testTimeout: 600_000,
          hookTimeout: 120_000,
          // Two files at a time, as in the unit project: most slow files wait on child processes,
          // PostgreSQL or fsync much of the time. Each file owns its temp dirs, ports and databases,
          // and every timing in them is bounded by progress (acks, rounds), not by the clock alone,
          // so they hold on a loaded machine (run at load averages 12–20 with two files at once).
          maxWorkers: Math.max(2, availableParallelism() - 1),
        },
      },
    ],
  },
});
