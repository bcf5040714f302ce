// The demo's keys: the kernel's signing key, one approver key, and the HMAC key of opaque refs.
// Generated once into a key directory (mode 0600, never overwritten) and reused from there, so two
// runs with the same keys and the fixed clock write byte-identical journals.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  fromBase64url,
  generateKeyPair,
  loadPrivateKeyFile,
  RecordsError,
  toBase64url,
  writePrivateKeyFile,
  type Signer,
} from '@edca/records';
import { CliError } from '../../exit-codes.js';
import { makeDirectory } from '../make-dir.js';

export const KERNEL_KEY_FILE = 'kernel.key.pem';
export const APPROVER_KEY_FILE = 'approver.key.pem';
export const REF_KEY_FILE = 'ref-key.b64u';

export interface DemoKeys {
  readonly kernel: Signer;
  readonly approver: Signer;
  readonly refKey: Uint8Array;
  readonly dir: string;
  /** True when this run generated the keys (false when it reused them). */
  readonly generated: boolean;
}

function fail(err: unknown, path: string): never {
  if (err instanceof RecordsError) throw new CliError(err.code, `${path}: ${err.message}`);
  throw new CliError('KEYS_UNREADABLE', `${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
}

function failWrite(err: unknown, path: string): never {
  const detail =
    err instanceof RecordsError ? err.message : ((err as NodeJS.ErrnoException).code ?? String(err));
  throw new CliError('IO_WRITE_FAILED', `cannot write demo keys in ${path}: ${detail}`);
}

function writeSecret(path: string, text: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    failWrite(err, path);
  }
  try {
    writeFileSync(fd, text);
  } catch (err) {
    failWrite(err, path);
  } finally {
    closeSync(fd);
  }
}

function readSecret(path: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    fail(err, path);
  }
  try {
    if ((fstatSync(fd).mode & 0o077) !== 0)
      throw new CliError(
        'KEY_FILE_PERMISSIONS',
        `${path} must not be readable by group or others (chmod 600)`,
      );
    const key = fromBase64url(readFileSync(fd, 'utf8').trim(), 32, 'KEY_INVALID');
    return key;
  } catch (err) {
    if (err instanceof CliError) throw err;
    fail(err, path);
  } finally {
    closeSync(fd);
  }
}

/**
 * Loads the three demo keys from `dir`, or generates them there when none exists yet.
 * @throws CliError KEYS_INCOMPLETE when only some key files exist; KEY_* codes for unreadable keys
 */
export function loadOrCreateKeys(dir: string): DemoKeys {
  const files = [KERNEL_KEY_FILE, APPROVER_KEY_FILE, REF_KEY_FILE].map((f) => join(dir, f));
  const present = files.filter((f) => existsSync(f));
  if (present.length > 0 && present.length < files.length) {
    throw new CliError(
      'KEYS_INCOMPLETE',
      `${dir} holds ${present.length} of the 3 demo key files (${KERNEL_KEY_FILE}, ${APPROVER_KEY_FILE}, ${REF_KEY_FILE})`,
    );
  }
  const [kernelPath, approverPath, refPath] = files as [string, string, string];
  const generated = present.length === 0;
  if (generated) {
    try {
      makeDirectory(dir, 0o700);
      writePrivateKeyFile(kernelPath, generateKeyPair().privateKeyPem);
      writePrivateKeyFile(approverPath, generateKeyPair().privateKeyPem);
    } catch (err) {
      failWrite(err, dir);
    }
    writeSecret(refPath, `${toBase64url(randomBytes(32))}\n`);
  }
  let kernel: Signer;
  let approver: Signer;
  try {
    kernel = loadPrivateKeyFile(kernelPath);
  } catch (err) {
    fail(err, kernelPath);
  }
  try {
    approver = loadPrivateKeyFile(approverPath);
  } catch (err) {
    fail(err, approverPath);
  }
  return { kernel, approver, refKey: readSecret(refPath), dir, generated };
}
