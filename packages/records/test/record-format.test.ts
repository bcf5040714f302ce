import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeRecord, parseTrustFile, verifyRecordLine } from '@edca/records';
import { buildExample } from './record-format-example.js';

const doc = readFileSync(new URL('../../../docs/record-format.md', import.meta.url), 'utf8');

/** The first fenced block after a `<!-- marker -->` comment. */
function blockAfter(marker: string): string[] {
  const at = doc.indexOf(`<!-- ${marker} -->`);
  if (at < 0) throw new Error(`marker ${marker} not in the doc`);
  const m = /```[a-z]*\n([\s\S]*?)\n```/.exec(doc.slice(at));
  if (m === null) throw new Error(`no fenced block after ${marker}`);
  return m[1]!.split('\n');
}

const values = Object.fromEntries(
  blockAfter('record-format-example:values').map((l) => {
    const [k, v] = l.split(/\s+/);
    return [k!, v!];
  }),
);
const lines = blockAfter('record-format-example:lines');
const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

describe('docs/record-format.md worked example', () => {
  describe('when verified independently, following only the doc', () => {
    it('shows three lines and the values the test needs', () => {
      expect(lines).toHaveLength(3);
      for (const k of [
        'publicKey.hex',
        'publicKey.b64url',
        'kid',
        'hash.1',
        'hash.2',
        'hash.3',
        'root.2.hex',
      ])
        expect(values[k], k).toMatch(/\S/);
    });

    it('each signature verifies with node:crypto over "edca-record-v1" ‖ 0x00 ‖ the line without its sig member', () => {
      const pk = Buffer.from(values['publicKey.hex']!, 'hex');
      expect(pk.toString('base64url')).toBe(values['publicKey.b64url']);
      expect(`ed25519:${sha(pk).subarray(0, 16).toString('base64url')}`).toBe(values.kid);
      const key = createPublicKey({
        key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pk]),
        format: 'der',
        type: 'spki',
      });
      for (const line of lines) {
        const rec = JSON.parse(line) as { sig: string; kid: string };
        expect(rec.kid).toBe(values.kid);
        const member = `"sig":"${rec.sig}",`;
        expect(line.split(member)).toHaveLength(2);
        const unsigned = line.replace(member, '');
        // The unsigned bytes are the canonical form of the record without sig.
        const { sig: _sig, ...rest } = JSON.parse(line) as Record<string, unknown>;
        expect(unsigned).toBe(
          JSON.stringify(Object.fromEntries(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)))),
        );
        const message = Buffer.concat([
          Buffer.from('edca-record-v1\0', 'latin1'),
          Buffer.from(unsigned, 'utf8'),
        ]);
        expect(verify(null, message, key, Buffer.from(rec.sig, 'base64url'))).toBe(true);
        // and a one-byte change does not verify
        message[message.length - 2] = (message[message.length - 2] ?? 0) ^ 1;
        expect(verify(null, message, key, Buffer.from(rec.sig, 'base64url'))).toBe(false);
      }
    });

    it('hashes, chain and checkpoint root match the doc', () => {
      const hashes = lines.map((l) => `sha256:${sha(Buffer.from(l, 'utf8')).toString('hex')}`);
      expect(hashes).toEqual([values['hash.1'], values['hash.2'], values['hash.3']]);
      const recs = lines.map(
        (l) => JSON.parse(l) as { seq: number; prev: string | null; body: { root?: string; size?: number } },
      );
      expect(recs.map((r) => r.seq)).toEqual([1, 2, 3]);
      expect(recs.map((r) => r.prev)).toEqual([null, hashes[0], hashes[1]]);
      const leaf = (l: string): Buffer => sha(Buffer.concat([Buffer.of(0), Buffer.from(l, 'utf8')]));
      const root = sha(Buffer.concat([Buffer.of(1), leaf(lines[0]!), leaf(lines[1]!)]));
      expect(root.toString('hex')).toBe(values['root.2.hex']);
      expect(recs[2]!.body).toEqual({ size: 2, root: root.toString('base64url') });
    });

    it('the trust file example parses and names the example key', () => {
      const at = doc.indexOf('- **Trust file**');
      const json = /```json\n([\s\S]*?)\n```/.exec(doc.slice(at))![1]!;
      const trust = parseTrustFile(json);
      expect(trust.keys[0]).toMatchObject({ kid: values.kid, publicKey: values['publicKey.b64url'] });
    });
  });

  describe('when checked against the library', () => {
    it('the library decodes and verifies every line and gives the same hashes', () => {
      const pk = Buffer.from(values['publicKey.hex']!, 'hex');
      lines.forEach((line, i) => {
        expect(verifyRecordLine(line, pk).hash).toBe(values[`hash.${i + 1}`]);
        expect(decodeRecord(line).seq).toBe(i + 1);
      });
    });
    it('signing the same records with the test seed reproduces the lines byte for byte', async () => {
      const ex = await buildExample();
      expect(ex.sealed.map((s) => Buffer.from(s.bytes).toString('utf8'))).toEqual(lines);
      expect(Buffer.from(ex.root).toString('hex')).toBe(values['root.2.hex']);
    });
  });
});
