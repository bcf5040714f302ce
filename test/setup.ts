import { afterEach, vi } from 'vitest';

// Fail any test that writes to the console: library code must report through values and events.
const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
const calls: string[] = [];
for (const m of methods) {
  vi.spyOn(console, m).mockImplementation((...args: unknown[]) => {
    calls.push(`console.${m}: ${args.map(String).join(' ')}`);
  });
}
afterEach(() => {
  if (calls.length > 0) {
    const seen = calls.splice(0);
    throw new Error(`unexpected console output:\n${seen.join('\n')}`);
  }
});
