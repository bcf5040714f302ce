import {
  AuditError,
  createReplayMaps,
  loadReplayMaps,
  safeVerifyJournal,
  type AuditReport,
} from '@edca/audit';
import { digestValue, toBase64url, type TrustFile } from '@edca/records';
import type { CompiledMap } from '@edca/semantic';
import { describe, expect, it } from 'vitest';
import { createGeneratorKeys, JournalWriter } from '../../../test/helpers/journal-generator.js';

const keys = createGeneratorKeys(21);

async function verify(lines: readonly string[], trust: TrustFile = keys.trust): Promise<AuditReport> {
  const r = await safeVerifyJournal(lines, { trust, workers: 0 });
  return r.ok ? r.value : r.error.report!;
}

async function keyJournal(retire: boolean, addedKey = keys.kernel.publicKey): Promise<string[]> {
  const w = new JournalWriter('keys', keys.kernel, 1000);
  await w.append('key.added', { kid: keys.kernel.kid, publicKey: toBase64url(addedKey), role: 'kernel' });
  if (retire) {
    await w.append('key.retired', {
      kid: keys.kernel.kid,
      publicKey: toBase64url(keys.kernel.publicKey),
      role: 'kernel',
    });
  }
  await w.append('policy.activated', { policyDigest: digestValue('p'), name: 'p', version: '1', owner: 'o' });
  await w.checkpoint();
  return w.lines();
}

describe('verifyJournal key and policy records', () => {
  describe('when a key signs after the journal retired it', () => {
    it('reports KEY_RETIRED at each later record', async () => {
      const r = await verify(await keyJournal(true));
      expect(r.findings.map((f) => [f.code, f.seq])).toEqual([
        ['KEY_RETIRED', 3],
        ['KEY_RETIRED', 4],
      ]);
    });
  });

  describe('when a key signs in the same millisecond as its retirement, after it', () => {
    it('reports KEY_RETIRED: journal order decides, not the clock', async () => {
      const w = new JournalWriter('keys', keys.kernel, 1000);
      const key = { kid: keys.kernel.kid, publicKey: toBase64url(keys.kernel.publicKey), role: 'kernel' };
      await w.append('key.added', key);
      const retired = await w.append('key.retired', key);
      const at = retired.record.at;
      await w.append(
        'policy.activated',
        { policyDigest: digestValue('p'), name: 'p', version: '1', owner: 'o' },
        at,
      );
      const r = await verify(w.lines());
      expect(r.findings.map((f) => [f.code, f.seq])).toEqual([['KEY_RETIRED', 3]]);
    });
  });

  describe('when a key record disagrees with the trust file', () => {
    it('reports KEY_RECORD_MISMATCH', async () => {
      const r = await verify(await keyJournal(false, keys.spareKernel.publicKey));
      expect(r.findings[0]).toMatchObject({ code: 'KEY_RECORD_MISMATCH', seq: 1 });
    });
  });

  describe('when the trust file limits the key to another period', () => {
    it('reports KEY_NOT_VALID_AT (notAfter is exclusive)', async () => {
      const lines = await keyJournal(false);
      const first = JSON.parse(lines[0]!) as { at: string };
      const trust: TrustFile = {
        version: 1,
        keys: keys.trust.keys.map((k) => (k.kid === keys.kernel.kid ? { ...k, notAfter: first.at } : k)),
      };
      const r = await verify(lines, trust);
      expect(r.findings[0]).toMatchObject({ code: 'KEY_NOT_VALID_AT', seq: 1 });
    });
  });

  describe('when a record is dated before the one before it', () => {
    it('reports TIME_REGRESSION', async () => {
      const w = new JournalWriter('time', keys.kernel, 1000);
      await w.append('key.added', {
        kid: keys.kernel.kid,
        publicKey: toBase64url(keys.kernel.publicKey),
        role: 'kernel',
      });
      await w.append(
        'policy.activated',
        { policyDigest: digestValue('p'), name: 'p', version: '1', owner: 'o' },
        '2021-06-01T00:00:00.000Z',
      );
      const r = await verify(w.lines());
      expect(r.findings).toEqual([expect.objectContaining({ code: 'TIME_REGRESSION', seq: 2 })]);
    });
  });
});

describe('loadReplayMaps and createReplayMaps', () => {
  describe('when a map does not load or two maps share a digest', () => {
    it('throws MAPS_INVALID', () => {
      const code = (fn: () => unknown): string | undefined => {
        try {
          fn();
        } catch (err) {
          expect(err).toBeInstanceOf(AuditError);
          return (err as AuditError).code;
        }
        return undefined;
      };
      expect(code(() => loadReplayMaps([{ file: 'bad.yaml', text: 'name: [unclosed' }]))).toBe(
        'MAPS_INVALID',
      );
      const fake = { digest: digestValue('m') } as CompiledMap;
      expect(code(() => createReplayMaps([fake, fake]))).toBe('MAPS_INVALID');
    });
  });
});
