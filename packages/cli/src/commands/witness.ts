import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import {
  AuditError,
  createWitness,
  parseWitnessFile,
  type AddCheckpointRequest,
  type AddCheckpointResult,
  type Witness,
  type WitnessedState,
  type WitnessFile,
  type WitnessStateStore,
} from '@edca/audit';
import {
  consistencyProof,
  decodeRecord,
  digestBytes,
  leafHash,
  loadPrivateKeyFile,
  RecordsError,
  toBase64url,
  type Signer,
} from '@edca/records';
import { InvalidArgumentError, type Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { readBytes } from '../io.js';
import { loadTrust } from './audit.js';

const MAX_REQUEST_BYTES = 64 * 1024;

function ioError(kind: 'IO_READ_FAILED' | 'IO_WRITE_FAILED', path: string, err: unknown): CliError {
  return new CliError(
    kind,
    `cannot ${kind === 'IO_READ_FAILED' ? 'read' : 'write'} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
  );
}

/** Writes a file so that a crash leaves either the old or the new content: temp file, fsync, rename, fsync the folder. */
function writeDurably(path: string, dir: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** A witness's state as one small JSON file per log in `dir`, replaced atomically and durably. */
export function createFileWitnessStore(dir: string): WitnessStateStore {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw ioError('IO_WRITE_FAILED', dir, err);
  }
  const fileOf = (origin: string): string => join(dir, `${digestBytes(origin).slice(7)}.json`);
  return {
    load(origin) {
      let text: string;
      try {
        text = readFileSync(fileOf(origin), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Promise.resolve(undefined);
        return Promise.reject(ioError('IO_READ_FAILED', fileOf(origin), err));
      }
      let v: { origin: string } & WitnessedState;
      try {
        v = JSON.parse(text) as { origin: string } & WitnessedState;
      } catch {
        return Promise.reject(new CliError('WITNESS_STATE_CORRUPT', `${fileOf(origin)} is not JSON`));
      }
      if (v.origin !== origin || !Number.isSafeInteger(v.size) || typeof v.root !== 'string') {
        return Promise.reject(
          new CliError('WITNESS_STATE_CORRUPT', `${fileOf(origin)} is not the state of ${origin}`),
        );
      }
      return Promise.resolve({ size: v.size, root: v.root });
    },
    save(origin, state) {
      try {
        writeDurably(fileOf(origin), dir, JSON.stringify({ origin, ...state }) + '\n');
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(ioError('IO_WRITE_FAILED', fileOf(origin), err));
      }
    },
  };
}

function loadKey(path: string): Signer {
  try {
    return loadPrivateKeyFile(path);
  } catch (err) {
    if (err instanceof RecordsError) throw new CliError(err.code, `${path}: ${err.message}`);
    throw err;
  }
}

/** The journal's last checkpoint line and an RFC 6962 proof from `oldSize` to it. */
export function checkpointRequest(journal: Buffer, oldSize: number): AddCheckpointRequest {
  const lines = journal
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
  let last = -1;
  for (let i = lines.length - 1; i >= 0 && last === -1; i--) {
    if (lines[i]!.includes('"type":"checkpoint"')) last = i;
  }
  if (last === -1) throw new CliError('PROOF_UNAVAILABLE', 'the journal has no checkpoint to cosign');
  const checkpoint = lines[last]!;
  const size = (decodeRecord(checkpoint).body as { size: number }).size;
  const leaves = lines.slice(0, size).map((l) => leafHash(Buffer.from(l, 'utf8')));
  const proof = oldSize === 0 || oldSize >= size ? [] : consistencyProof(oldSize, leaves).map(toBase64url);
  return { checkpoint, oldSize, proof };
}

/** Adds a cosigned checkpoint to a witnessed-checkpoints file (merging cosignatures of the same checkpoint). */
function recordCosignature(path: string, result: Extract<AddCheckpointResult, { ok: true }>): void {
  let file: WitnessFile = { version: 1, checkpoints: [] };
  let text: string | undefined;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('IO_READ_FAILED', path, err);
  }
  if (text !== undefined) {
    try {
      file = parseWitnessFile(JSON.parse(text));
    } catch (err) {
      if (err instanceof AuditError || err instanceof SyntaxError)
        throw new CliError('WITNESS_FILE_INVALID', `${path}: ${err.message}`);
      throw err;
    }
  }
  const { origin, size, root } = result.checkpoint;
  const same = file.checkpoints.find((c) => c.origin === origin && c.size === size && c.root === root);
  const checkpoints =
    same === undefined
      ? [...file.checkpoints, result.checkpoint]
      : file.checkpoints.map((c) =>
          c !== same
            ? c
            : {
                ...c,
                cosignatures: [
                  ...c.cosignatures.filter((x) => x.kid !== result.cosignature.kid),
                  result.cosignature,
                ],
              },
        );
  try {
    writeFileSyncDurable(path, JSON.stringify({ version: 1, checkpoints }, null, 2) + '\n');
  } catch (err) {
    throw ioError('IO_WRITE_FAILED', path, err);
  }
}

function writeFileSyncDurable(path: string, text: string): void {
  const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) || '/' : '.';
  writeDurably(path, dir, text);
}

const STATUS: Readonly<Record<string, number>> = {
  WITNESS_BAD_REQUEST: 400,
  WITNESS_UNTRUSTED_LOG: 403,
  WITNESS_CONFLICT: 409,
  WITNESS_ROLLBACK: 409,
  WITNESS_INCONSISTENT: 422,
};

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) throw new Error('request too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Serves `POST /add-checkpoint` (JSON `AddCheckpointRequest`) for one witness; answers JSON. */
export function serveWitness(
  witness: Witness,
  port: number,
  host: string,
): Promise<ReturnType<typeof createServer>> {
  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body) + '\n');
  };
  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/add-checkpoint') {
      send(res, 404, { code: 'NOT_FOUND', message: 'POST /add-checkpoint' });
      return;
    }
    readBody(req)
      .then(async (text) => {
        let request: unknown;
        try {
          request = JSON.parse(text);
        } catch {
          send(res, 400, { code: 'WITNESS_BAD_REQUEST', message: 'the body is not JSON' });
          return;
        }
        const result = await witness.addCheckpoint(request, Math.floor(Date.now() / 1000));
        send(res, result.ok ? 200 : (STATUS[result.code] ?? 400), result);
      })
      .catch((err: unknown) => {
        send(res, 500, {
          code: 'WITNESS_UNAVAILABLE',
          message: err instanceof Error ? err.message : String(err),
        });
      });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

interface WitnessFlags {
  key: string;
  trust: string;
  state: string;
}

/** Registers `edca witness serve|cosign`. */
export function registerWitness(program: Command, io: CliIo): void {
  const witness = program
    .command('witness')
    .description(
      'cosign checkpoints only if consistent with the largest one cosigned before (C2SP tlog-witness)',
    );

  witness
    .command('serve')
    .description('run a witness over HTTP: POST /add-checkpoint')
    .requiredOption('--key <file>', "the witness's private key (role witness in the auditors' trust file)")
    .requiredOption('--trust <file>', 'trust file naming the kernel keys whose logs this witness cosigns')
    .requiredOption(
      '--state <dir>',
      'folder where the witness keeps, durably, the largest checkpoint it cosigned per log',
    )
    .option('--port <n>', 'port (0: any free port)', port, 0)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action(async (flags: WitnessFlags & { port: number; host: string }) => {
      const w = createWitness({
        signer: loadKey(flags.key),
        trust: loadTrust(flags.trust),
        store: createFileWitnessStore(flags.state),
      });
      const server = await serveWitness(w, flags.port, flags.host);
      const addr = server.address();
      const where = typeof addr === 'object' && addr !== null ? `${addr.address}:${addr.port}` : String(addr);
      io.stdout(`witness ${w.kid} listening on http://${where}/add-checkpoint\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          server.close(() => resolve());
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });

  witness
    .command('cosign')
    .description("cosign a journal's last checkpoint as a witness (the library call, without a server)")
    .argument('<journal>', 'journal file')
    .requiredOption('--key <file>', "the witness's private key")
    .requiredOption('--trust <file>', 'trust file naming the kernel keys')
    .requiredOption('--state <dir>', "the witness's state folder")
    .requiredOption(
      '--out <file>',
      'witnessed-checkpoints file to add the cosignature to (for audit verify --witnesses)',
    )
    .action(async (journalPath: string, flags: WitnessFlags & { out: string }) => {
      const store = createFileWitnessStore(flags.state);
      const w = createWitness({ signer: loadKey(flags.key), trust: loadTrust(flags.trust), store });
      const journal = readBytes(journalPath);
      const first = checkpointRequest(journal, 0);
      const origin = decodeRecord(first.checkpoint).stream;
      const held = (await store.load(origin))?.size ?? 0;
      const result = await w.addCheckpoint(checkpointRequest(journal, held), Math.floor(Date.now() / 1000));
      if (!result.ok) throw new CliError(result.code, result.message, EXIT.CHECK_FAILED);
      recordCosignature(flags.out, result);
      io.stdout(
        `COSIGNED: ${origin} size ${result.checkpoint.size} by witness ${result.cosignature.kid}` +
          (held === 0
            ? ' (first checkpoint of this log)\n'
            : ` (consistent with the cosigned size ${held})\n`),
      );
    });
}
