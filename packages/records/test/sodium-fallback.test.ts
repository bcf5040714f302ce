import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { sodiumExpected } from './backends.js';

const CHILD = fileURLToPath(new URL('./vector-suite-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface ChildReport {
  readonly backend: string;
  readonly workerBackend: string;
  readonly counts: Record<string, number>;
  readonly wrong: readonly string[];
  readonly namedSodium: { readonly verify: string; readonly signer: string; readonly worker: string };
}

/** Runs the whole vector suite through the default backend in a fresh Node process. */
async function runSuite(disableSodium: boolean): Promise<ChildReport> {
  const env: NodeJS.ProcessEnv = { ...process.env, EDCA_DISABLE_SODIUM: disableSodium ? '1' : '' };
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: ROOT,
    env,
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildReport;
}

const FULL_SUITE = { rfc8032: 5, 'sign.input': 1024, wycheproof: 151, zip215: 196, 'many-eddsas': 12 };

describe('the Ed25519 vector suite in a process of its own', () => {
  describe('when sodium-native is made unavailable (EDCA_DISABLE_SODIUM=1)', () => {
    it('falls back to node:crypto, worker signer included, and gets every vector right', async () => {
      const r = await runSuite(true);
      expect(r.backend).toBe('node');
      expect(r.workerBackend).toBe('node');
      expect(r.counts).toEqual(FULL_SUITE);
      expect(r.wrong).toEqual([]);
      // Naming the missing backend is an error with a stable code, never a silent fallback.
      expect(r.namedSodium).toEqual({
        verify: 'ED25519_BACKEND_UNAVAILABLE',
        signer: 'ED25519_BACKEND_UNAVAILABLE',
        worker: 'ED25519_BACKEND_UNAVAILABLE',
      });
    }, 180_000);
  });

  describe.runIf(sodiumExpected)('when sodium-native loads (its prebuilt binary fits this platform)', () => {
    it('uses libsodium by default, worker signer included, and gets every vector right', async () => {
      const r = await runSuite(false);
      expect(r.backend).toBe('sodium');
      expect(r.workerBackend).toBe('sodium');
      expect(r.counts).toEqual(FULL_SUITE);
      expect(r.wrong).toEqual([]);
      expect(r.namedSodium).toEqual({ verify: 'NO_ERROR', signer: 'NO_ERROR', worker: 'NO_ERROR' });
    }, 180_000);
  });
});
