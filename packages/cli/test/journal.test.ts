import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '@edca/cli';
import {
  createNodeSigner,
  generateKeyPair,
  serializeTrustFile,
  trustedKeyFor,
  type Signer,
} from '@edca/records';
import { openPostgresJournal } from '@edca/store-postgres';
import type { AppendedRecord } from '@edca/kernel';
import { beforeAll, describe, expect, it } from 'vitest';
import { PG_HOOK_TIMEOUT } from '../../store-postgres/test/pg-server.js';
import { usePgServer } from '../../store-postgres/test/use-pg-server.js';
import { pg } from '../../store-postgres/test/pg.js';
import { captureIo } from '../../../test/helpers/cli-io.js';

const server = usePgServer();
let url: string;
/** A trust file that lists the test journal's signer as the kernel key. */
const kernelTrustFile = (): string =>
  serializeTrustFile({
    version: 1,
    keys: [trustedKeyFor(signer.publicKey, 'kernel', '2020-01-01T00:00:00.000Z')],
  });

let signer: Signer;
let written: AppendedRecord[];
beforeAll(async () => {
  url = await server.createDatabase();
  signer = createNodeSigner(generateKeyPair().privateKeyPem);
  const journal = await openPostgresJournal({
    connectionString: url,
    stream: 'bank-1',
    signer,
    checkpointEvery: 3,
  });
  written = await journal.append(
    Array.from({ length: 7 }, (_, i) => ({
      type: 'policy.activated' as const,
      at: '2026-01-02T03:04:05.006Z',
      body: { policyDigest: `sha256:${'ab'.repeat(32)}`, name: `p${i}`, version: '1', owner: 'ops' },
    })),
  );
  await journal.close();
}, PG_HOOK_TIMEOUT);

describe('edca journal export', () => {
  describe('when the store is a PostgreSQL URL', () => {
    it('prints every stored record as its exact bytes, one per line, in seq order; exit 0', async () => {
      const io = captureIo();
      expect(await runCli(['journal', 'export', '--store', url, '--stream', 'bank-1'], io)).toBe(0);
      const lines = io.out().split('\n');
      expect(lines.pop()).toBe('');
      // 7 records, a checkpoint after every 3rd, and the sealing checkpoint of close(): 10.
      expect(lines).toHaveLength(10);
      for (const r of written) {
        expect(lines[r.record.seq - 1]).toBe(Buffer.from(r.bytes).toString('utf8'));
      }
      expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual(
        Array.from({ length: 10 }, (_, i) => i + 1),
      );
    });

    it('writes the same bytes to --out, and edca audit verify finds the stream intact', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'edca-journal-cli-'));
      const out = join(dir, 'journal.jsonl');
      const io = captureIo();
      expect(
        await runCli(['journal', 'export', '--store', url, '--stream', 'bank-1', '--out', out], io),
      ).toBe(0);
      const stdoutIo = captureIo();
      await runCli(['journal', 'export', '--store', url, '--stream', 'bank-1'], stdoutIo);
      expect(readFileSync(out, 'utf8')).toBe(stdoutIo.out());
      const trust = join(dir, 'trust.json');
      writeFileSync(trust, kernelTrustFile());
      const audit = captureIo();
      const code = await runCli(['audit', 'verify', out, '--trust', trust], audit);
      expect(audit.out()).toContain('INTACT');
      expect(audit.out()).toContain('records: 10');
      expect(audit.err()).toBe('');
      expect(code).toBe(0);
    });

    it('exports from --from on', async () => {
      const io = captureIo();
      expect(
        await runCli(['journal', 'export', '--store', url, '--stream', 'bank-1', '--from', '9'], io),
      ).toBe(0);
      expect(
        io
          .out()
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { seq: number }).seq),
      ).toEqual([9, 10]);
    });
  });

  describe('when the stream is missing or the store cannot be reached', () => {
    it('exits 2 with USAGE without --stream, STORE_UNAVAILABLE for an unknown stream or server', async () => {
      let io = captureIo();
      expect(await runCli(['journal', 'export', '--store', url], io)).toBe(2);
      expect(io.err()).toContain('USAGE');
      io = captureIo();
      expect(await runCli(['journal', 'export', '--store', url, '--stream', 'nope'], io)).toBe(2);
      expect(io.err()).toContain('STORE_UNAVAILABLE');
      io = captureIo();
      expect(
        await runCli(
          ['journal', 'export', '--store', 'postgres://x:y@127.0.0.1:1/none', '--stream', 's'],
          io,
        ),
      ).toBe(2);
      expect(io.err()).toContain('STORE_UNAVAILABLE');
      expect(io.err()).not.toContain('x:y');
    });
  });
});

describe('edca journal export of a damaged stream', () => {
  it('writes what is there, then exits 1 with JOURNAL_INCOMPLETE or JOURNAL_NOT_UTF8', async () => {
    const db = await server.createDatabase();
    const journal = await openPostgresJournal({
      connectionString: db,
      stream: 's',
      signer,
      checkpointEvery: 100,
    });
    await journal.append(
      Array.from({ length: 3 }, (_, i) => ({
        type: 'policy.activated' as const,
        at: '2026-01-02T03:04:05.006Z',
        body: { policyDigest: `sha256:${'ab'.repeat(32)}`, name: `p${i}`, version: '1', owner: 'ops' },
      })),
    );
    await journal.close(); // seals: 4 records
    const c = new pg.Client({ connectionString: db });
    c.on('error', () => {});
    await c.connect();
    await c.query('ALTER TABLE edca.journal_records DISABLE TRIGGER journal_records_append_only');
    await c.query(
      `UPDATE edca.journal_records SET bytes = '\\xff'::bytea || bytes WHERE stream = 's' AND seq = 2`,
    );
    let io = captureIo();
    expect(await runCli(['journal', 'export', '--store', db, '--stream', 's'], io)).toBe(1);
    expect(io.err()).toContain('JOURNAL_NOT_UTF8');
    const dir = mkdtempSync(join(tmpdir(), 'edca-journal-cli-'));
    io = captureIo();
    expect(
      await runCli(['journal', 'export', '--store', db, '--stream', 's', '--out', join(dir, 'j')], io),
    ).toBe(0);
    expect(readFileSync(join(dir, 'j'))[readFileSync(join(dir, 'j')).indexOf(0x0a) + 1]).toBe(0xff);
    await c.query(`DELETE FROM edca.journal_records WHERE stream = 's' AND seq >= 3`);
    io = captureIo();
    expect(
      await runCli(['journal', 'export', '--store', db, '--stream', 's', '--out', join(dir, 'k')], io),
    ).toBe(1);
    expect(io.err()).toContain('JOURNAL_INCOMPLETE');
    expect(
      readFileSync(join(dir, 'k'), 'utf8')
        .split('\n')
        .filter((l) => l !== ''),
    ).toHaveLength(2);
    await c.end();
  });
});

describe('edca audit with --store', () => {
  it('verifies and proves straight from the PostgreSQL stream; a file and --store together are a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edca-journal-cli-'));
    const trust = join(dir, 'trust.json');
    writeFileSync(trust, kernelTrustFile());
    let io = captureIo();
    expect(
      await runCli(['audit', 'verify', '--store', url, '--stream', 'bank-1', '--trust', trust], io),
    ).toBe(0);
    expect(io.out()).toContain('INTACT');
    expect(io.out()).toContain('records: 10');
    expect(io.out()).not.toContain('edca-test'); // never the password
    io = captureIo();
    expect(await runCli(['audit', 'prove', '--store', url, '--stream', 'bank-1', '--seq', '2'], io)).toBe(0);
    const proofFile = join(dir, 'proof.json');
    writeFileSync(proofFile, io.out());
    io = captureIo();
    expect(await runCli(['audit', 'check-proof', proofFile, '--trust', trust], io)).toBe(0);
    expect(io.out()).toContain('proof VALID: record 2');
    io = captureIo();
    expect(
      await runCli(
        ['audit', 'verify', 'x.jsonl', '--store', url, '--stream', 'bank-1', '--trust', trust],
        io,
      ),
    ).toBe(2);
    expect(io.err()).toContain('USAGE');
  });
});

describe('edca journal streams', () => {
  it('lists the streams with their last seq', async () => {
    const io = captureIo();
    expect(await runCli(['journal', 'streams', '--store', url, '--json'], io)).toBe(0);
    expect(JSON.parse(io.out())).toEqual([{ stream: 'bank-1', seq: 10 }]);
  });
});
