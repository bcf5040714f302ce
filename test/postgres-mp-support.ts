/**
 * Shared by the PostgreSQL multi-process test, its fault test and the benchmark: the app tables the
 * child kernels use, payments, kernel keys, and spawning children that speak JSON lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pg } from '../packages/store-postgres/test/pg.js';
import { generateKeyPair, toBase64url, type TrustFile } from '@edca/records';
import type { ChildConfig } from './postgres-mp-child.js';

export const repoRoot = fileURLToPath(new URL('../', import.meta.url));
export const childScript = fileURLToPath(new URL('./postgres-mp-child.ts', import.meta.url));
export const mapDir = fileURLToPath(new URL('./fixtures/postgres-mp/', import.meta.url));
export const mapFile = join(mapDir, 'mp-refunds.yaml');

/** Creates the host's tables (payments and the side-effect log) and `instances × count` settled payments. */
export async function prepareAppTables(url: string, instances: number, count: number): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  try {
    await c.query(`
      CREATE TABLE mp_payments (pay_id text PRIMARY KEY, status_cd text NOT NULL, amt_cents integer NOT NULL);
      CREATE TABLE mp_effects (id bigserial PRIMARY KEY, idempotency_key text NOT NULL, pay_id text NOT NULL,
                               cents bigint NOT NULL, instance integer NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
      CREATE TABLE mp_contested (permit_hash text PRIMARY KEY, record text NOT NULL, session text NOT NULL, pay_id text NOT NULL);
      CREATE TABLE mp_barrier (instance integer PRIMARY KEY);`);
    await c.query(
      `INSERT INTO mp_payments (pay_id, status_cd, amt_cents)
       SELECT 'P' || k || '-' || i, 'SETL', 10000 FROM generate_series(0, $1 - 1) k, generate_series(0, $2 - 1) i`,
      [instances, count],
    );
  } finally {
    await c.end();
  }
}

/** A kernel key written to a 0600 PEM file, and a trust file naming it with the `kernel` role. */
export function writeKernelKeys(
  dir: string,
  n: number,
): { keyFiles: string[]; trustFile: string; trust: TrustFile } {
  const keys = Array.from({ length: n }, () => generateKeyPair());
  const keyFiles = keys.map((k, i) => {
    const file = join(dir, `kernel-${i}.key.pem`);
    writeFileSync(file, k.privateKeyPem, { mode: 0o600 });
    return file;
  });
  const trust: TrustFile = {
    version: 1,
    keys: keys.map((k, i) => ({
      kid: k.kid,
      alg: 'Ed25519',
      publicKey: toBase64url(k.publicKey),
      role: 'kernel',
      notBefore: '2020-01-01T00:00:00.000Z',
      notAfter: null,
      name: `kernel-${i}`,
    })),
  };
  const trustFile = join(dir, 'trust.json');
  writeFileSync(trustFile, JSON.stringify(trust, null, 2));
  return { keyFiles, trustFile, trust };
}

export const scratchDir = (): string => mkdtempSync(join(tmpdir(), 'edca-pg-mp-'));

/** A running child kernel and the JSON lines it printed. */
export interface Child {
  readonly proc: ChildProcess;
  readonly lines: Record<string, unknown>[];
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string>;
  stderr(): string;
  /** Resolves when a printed line matches. */
  waitFor(pred: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

export function defaultConfig(url: string, instance: number, keyFile: string): ChildConfig {
  return {
    url,
    stream: 'mp',
    instance,
    keyFile,
    mapFile,
    start: 0,
    count: 2000,
    workers: 16,
    contestedEvery: 0,
    instances: 1,
    handlerDelayMs: 0,
    executeTwice: false,
    appName: `edca-i${instance}`,
    recoverOnly: false,
  };
}

/** Starts a child kernel; `nodeArgs` go before the script (e.g. `--cpu-prof` for a profile). */
export function spawnChild(config: ChildConfig, nodeArgs: readonly string[] = []): Child {
  const proc = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', childScript, JSON.stringify(config)],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    pred: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  let err = '';
  proc.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  createInterface({ input: proc.stdout }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.pred(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => resolve(signal ?? code ?? -1)),
  );
  return {
    proc,
    lines,
    exited,
    stderr: () => err,
    waitFor: (pred) =>
      new Promise((resolve, reject) => {
        const found = lines.find(pred);
        if (found) {
          resolve(found);
          return;
        }
        waiters.push({ pred, resolve });
        void exited.then((code) => reject(new Error(`child exited (${code}) first: ${err.slice(-2000)}`)));
      }),
  };
}
