// The only module of @edca/records that touches the file system or randomness: hosts (the CLI,
// the kernel's file journal) call it at startup; the record path never does.
import { closeSync, fstatSync, openSync, readFileSync, writeFileSync, fchmodSync } from 'node:fs';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { createSigner, kidOf, privateKeyPemFromSeed, publicKeyOf, type Signer } from './ed25519.js';
import { RecordsError } from './errors.js';

/** A freshly generated Ed25519 key pair. */
export interface GeneratedKeyPair {
  /** PKCS#8 PEM (RFC 8410 / RFC 7468) of the private key. */
  readonly privateKeyPem: string;
  /** The raw 32-byte public key. */
  readonly publicKey: Uint8Array;
  readonly kid: string;
}

/**
 * Generates an Ed25519 key pair from the OS random source, or derives it from a 32-byte seed.
 * @throws RecordsError `KEY_INVALID` when a seed is given that is not 32 bytes
 * @example
 * const { privateKeyPem, kid } = generateKeyPair();
 */
export function generateKeyPair(seed?: Uint8Array): GeneratedKeyPair {
  const privateKeyPem =
    seed === undefined
      ? generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
      : privateKeyPemFromSeed(seed);
  const publicKey = publicKeyOf(createPrivateKey(privateKeyPem));
  return { privateKeyPem, publicKey, kid: kidOf(publicKey) };
}

/**
 * Writes a private key PEM to a new file with mode 0600; never overwrites.
 * @throws RecordsError `KEY_FILE_EXISTS`, `KEY_FILE_UNREADABLE` (cannot write)
 * @example
 * writePrivateKeyFile('out/kernel.key.pem', generateKeyPair().privateKeyPem);
 */
export function writePrivateKeyFile(path: string, privateKeyPem: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new RecordsError('KEY_FILE_EXISTS', `${path} already exists`);
    throw new RecordsError('KEY_FILE_UNREADABLE', `cannot create ${path}: ${code ?? String(err)}`);
  }
  try {
    // The umask can only remove bits, but be exact regardless of how the file was created.
    fchmodSync(fd, 0o600);
    writeFileSync(fd, privateKeyPem);
  } finally {
    closeSync(fd);
  }
}

/**
 * Loads a PKCS#8 PEM Ed25519 private key as a {@link Signer} (libsodium when it loads, else
 * node:crypto: `createSigner`), refusing a file that
 * its group or others may read or write (mode & 0o077 ≠ 0), as ssh does.
 * @throws RecordsError `KEY_FILE_UNREADABLE`, `KEY_FILE_PERMISSIONS`, `KEY_INVALID`, `KEY_UNSUPPORTED`
 * @example
 * const signer = loadPrivateKeyFile('keys/kernel.key.pem');
 */
export function loadPrivateKeyFile(path: string): Signer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new RecordsError(
      'KEY_FILE_UNREADABLE',
      `cannot open ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  let pem: string;
  try {
    // fstat on the open descriptor: the mode checked is the mode of the file read.
    const st = fstatSync(fd);
    if (!st.isFile()) throw new RecordsError('KEY_FILE_UNREADABLE', `${path} is not a regular file`);
    if ((st.mode & 0o077) !== 0)
      throw new RecordsError(
        'KEY_FILE_PERMISSIONS',
        `${path} has mode ${(st.mode & 0o777).toString(8)}; a private key must not be accessible to group or others (chmod 600)`,
      );
    pem = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  return createSigner(pem);
}
