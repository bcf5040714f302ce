import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '@edca/cli';
import {
  findTrustedKey,
  loadPrivateKeyFile,
  parseTrustFile,
  publicKeyOfTrusted,
  verifyEd25519,
} from '@edca/records';
import { describe, expect, it } from 'vitest';
import { captureIo } from '../../../test/helpers/cli-io.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'edca-keygen-'));

describe('edca keygen', () => {
  describe('when DIR is new', () => {
    it('writes a 0600 PKCS#8 key and a trust file naming its kid, role and window; exit 0', async () => {
      const dir = join(tmp(), 'keys');
      const io = captureIo();
      expect(await runCli(['keygen', '--out', dir, '--json'], io)).toBe(0);
      const out = JSON.parse(io.out()) as {
        kid: string;
        role: string;
        name: string;
        key: string;
        trust: string;
      };
      expect(out).toMatchObject({
        role: 'kernel',
        name: 'kernel',
        key: join(dir, 'kernel.key.pem'),
        trust: join(dir, 'trust.json'),
      });
      expect(statSync(out.key).mode & 0o777).toBe(0o600);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(readFileSync(out.key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);

      const trust = parseTrustFile(readFileSync(out.trust, 'utf8'));
      expect(trust.keys).toHaveLength(1);
      const entry = trust.keys[0]!;
      expect(entry).toMatchObject({
        kid: out.kid,
        alg: 'Ed25519',
        role: 'kernel',
        notAfter: null,
        name: 'kernel',
      });
      expect(
        findTrustedKey(trust, out.kid, 'kernel', new Date(Date.parse(entry.notBefore) + 1000).toISOString()),
      ).toEqual(entry);

      // The key on disk and the trust entry belong together.
      const signer = loadPrivateKeyFile(out.key);
      expect(signer.kid).toBe(out.kid);
      const msg = new TextEncoder().encode('hello');
      expect(verifyEd25519(publicKeyOfTrusted(entry), msg, await signer.sign(msg))).toBe(true);
    });
  });

  describe('when DIR already has a trust file', () => {
    it('adds an approver key, keeping the existing entries', async () => {
      const dir = tmp();
      expect(await runCli(['keygen', '--out', dir], captureIo())).toBe(0);
      const io = captureIo();
      expect(await runCli(['keygen', '--out', dir, '--role', 'approver', '--name', 'alice'], io)).toBe(0);
      expect(io.out()).toMatch(/^ed25519:[A-Za-z0-9_-]{22} \(approver, alice\)\n/);
      const trust = parseTrustFile(readFileSync(join(dir, 'trust.json'), 'utf8'));
      expect(trust.keys.map((k) => [k.role, k.name])).toEqual([
        ['kernel', 'kernel'],
        ['approver', 'alice'],
      ]);
      expect(statSync(join(dir, 'alice.key.pem')).mode & 0o777).toBe(0o600);
    });
  });

  describe('when --role names a role a trust file may hold', () => {
    for (const role of ['policy-owner', 'refund-approver', 'fraud-analyst', 'collections.supervisor']) {
      it(`issues a ${role} key that findTrustedKey finds under that role`, async () => {
        const dir = tmp();
        const io = captureIo();
        expect(await runCli(['keygen', '--out', dir, '--role', role, '--json'], io)).toBe(0);
        const out = JSON.parse(io.out()) as { kid: string; role: string; name: string };
        expect(out).toMatchObject({ role, name: role });
        const trust = parseTrustFile(readFileSync(join(dir, 'trust.json'), 'utf8'));
        expect(findTrustedKey(trust, out.kid, role, new Date().toISOString())).toBeDefined();
        expect(existsSync(join(dir, `${role}.key.pem`))).toBe(true);
      });
    }
  });

  describe('when the command cannot proceed', () => {
    it('refuses to overwrite a key file: exit 2, KEY_FILE_EXISTS, trust file unchanged', async () => {
      const dir = tmp();
      expect(await runCli(['keygen', '--out', dir], captureIo())).toBe(0);
      const before = readFileSync(join(dir, 'trust.json'), 'utf8');
      const io = captureIo();
      expect(await runCli(['keygen', '--out', dir], io)).toBe(2);
      expect(io.err()).toContain('KEY_FILE_EXISTS');
      expect(readFileSync(join(dir, 'trust.json'), 'utf8')).toBe(before);
    });
    it('refuses an invalid trust file with its stable code and writes no key: exit 2', async () => {
      const dir = tmp();
      writeFileSync(join(dir, 'trust.json'), '{"version":1,"keys":[],"keys":[]}');
      const io = captureIo();
      expect(await runCli(['keygen', '--out', dir], io)).toBe(2);
      expect(io.err()).toContain('TRUST_SYNTAX');
      expect(existsSync(join(dir, 'kernel.key.pem'))).toBe(false);
    });
    for (const role of ['Root', 'policy owner', '-owner', 'x'.repeat(65)]) {
      it(`refuses the role ${JSON.stringify(role.slice(0, 12))}, which no trust file may hold: exit 2, USAGE_INVALID_ROLE`, async () => {
        const dir = tmp();
        const io = captureIo();
        expect(await runCli(['keygen', '--out', dir, '--role', role], io)).toBe(2);
        expect(io.err()).toContain('USAGE_INVALID_ROLE');
        expect(existsSync(join(dir, 'trust.json'))).toBe(false);
      });
    }
    it('refuses a name that is not a plain file name: exit 2', async () => {
      const io = captureIo();
      expect(await runCli(['keygen', '--out', tmp(), '--name', '../evil'], io)).toBe(2);
      expect(io.err()).toContain('USAGE_INVALID_NAME');
    });
    it('requires --out: exit 2', async () => {
      expect(await runCli(['keygen'], captureIo())).toBe(2);
    });
    it('reports an unwritable directory as an I/O error: exit 2', async () => {
      const parent = tmp();
      chmodSync(parent, 0o500);
      const io = captureIo();
      const code = await runCli(['keygen', '--out', join(parent, 'sub')], io);
      chmodSync(parent, 0o700);
      // root ignores directory permissions; then the command simply succeeds.
      if (process.getuid?.() === 0) expect(code).toBe(0);
      else {
        expect(code).toBe(2);
        expect(io.err()).toContain('IO_WRITE_FAILED');
      }
    });
  });
});
