// The one differential harness: every fast path each package lists in src/internal/fast-paths.ts
// must be registered under test/fast-paths/, and each registered pair agrees with its reference.
import { describe, expect, it } from 'vitest';
import { arpFastPaths } from '../packages/arp/src/internal/fast-paths.js';
import { auditFastPaths } from '../packages/audit/src/internal/fast-paths.js';
import { recordsFastPaths } from '../packages/records/src/internal/fast-paths.js';
import { semanticFastPaths } from '../packages/semantic/src/internal/fast-paths.js';
import './fast-paths/arp.js';
import './fast-paths/audit.js';
import './fast-paths/records.js';
import './fast-paths/semantic.js';
import { registeredFastPaths, runFastPathCase } from './fast-paths/harness.js';

const listed = Object.entries<Readonly<Record<string, unknown>>>({
  arp: arpFastPaths,
  audit: auditFastPaths,
  records: recordsFastPaths,
  semantic: semanticFastPaths,
}).flatMap(([pkg, paths]) => Object.entries(paths).map(([name, pair]) => ({ name: `${pkg}.${name}`, pair })));

describe('fast paths', () => {
  describe('when the packages list their pairs', () => {
    it('registers each listed pair once, with that very pair', () => {
      const registered = registeredFastPaths();
      expect([...registered.keys()].sort()).toEqual(listed.map((l) => l.name).sort());
      for (const l of listed) expect(registered.get(l.name)?.pair, l.name).toBe(l.pair);
    });
  });

  describe.each(listed.map((l) => [l.name]))('%s', (name) => {
    it('answers what its reference answers wherever it answers, and answers the cases it exists for', () => {
      runFastPathCase(registeredFastPaths().get(name)!);
    }, 120_000); // thousands of generated cases; zod's side of the body check alone takes seconds
  });
});
