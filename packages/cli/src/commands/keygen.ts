import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  addTrustedKey,
  generateKeyPair,
  parseTrustFile,
  RecordsError,
  serializeTrustFile,
  trustedKeyFor,
  writePrivateKeyFile,
  TRUST_ROLE_PATTERN,
  type TrustFile,
} from '@edca/records';
import type { Command } from 'commander';
import { CliError } from '../exit-codes.js';
import { makeDirectory } from '../internal/make-dir.js';
import type { CliIo } from '../io.js';

/** Roles the kernel and the tools read from a trust file; `--role` accepts any role a trust file may hold. */
export const KEYGEN_ROLES = ['kernel', 'approver', 'policy-owner'] as const;

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

interface KeygenOptions {
  readonly out: string;
  readonly role: string;
  readonly name?: string;
  readonly json?: boolean;
}

const ioError = (code: string, err: unknown, what: string): CliError =>
  new CliError(code, `${what}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);

function readTrust(path: string): TrustFile {
  if (!existsSync(path)) return { version: 1, keys: [] };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw ioError('IO_READ_FAILED', err, `cannot read ${path}`);
  }
  try {
    return parseTrustFile(text);
  } catch (err) {
    if (err instanceof RecordsError) throw new CliError(err.code, `${path}: ${err.message}`);
    throw err;
  }
}

/**
 * `edca keygen --out DIR [--role ROLE] [--name NAME]`: writes `DIR/NAME.key.pem` (PKCS#8 PEM,
 * mode 0600, never overwritten) and adds the public key to `DIR/trust.json` (created if missing).
 * ROLE is any role a trust file may hold (`kernel`, `approver`, `refund-approver`,
 * `policy-owner`, …: {@link TRUST_ROLE_PATTERN}); default `kernel`. Exit 0 on success, 2 on a
 * usage or I/O error (USAGE_INVALID_ROLE, existing key file, unreadable or invalid trust file).
 */
export function registerKeygen(program: Command, io: CliIo): void {
  program
    .command('keygen')
    .description('generate an Ed25519 signing key and add its public key to DIR/trust.json')
    .requiredOption(
      '--out <dir>',
      'directory for NAME.key.pem and trust.json (created with mode 0700 if missing)',
    )
    .option(
      '--role <role>',
      `what the key signs for: any trust-file role, e.g. ${KEYGEN_ROLES.join(', ')}, refund-approver`,
      'kernel',
    )
    .option('--name <name>', 'key name, used for the file name and the trust entry (default: the role)')
    .option('--json', 'print the result as one JSON object')
    .action((opts: KeygenOptions) => {
      if (!TRUST_ROLE_PATTERN.test(opts.role))
        throw new CliError(
          'USAGE_INVALID_ROLE',
          `--role must be a trust-file role matching ${TRUST_ROLE_PATTERN.source}, got ${JSON.stringify(opts.role)}`,
        );
      const name = opts.name ?? opts.role;
      if (!NAME_RE.test(name))
        throw new CliError(
          'USAGE_INVALID_NAME',
          `--name must match ${NAME_RE.source}, got ${JSON.stringify(name)}`,
        );
      const dir = opts.out;
      try {
        makeDirectory(dir, 0o700);
      } catch (err) {
        throw ioError('IO_WRITE_FAILED', err, `cannot create directory ${dir}`);
      }
      const keyPath = join(dir, `${name}.key.pem`);
      const trustPath = join(dir, 'trust.json');
      if (existsSync(keyPath))
        throw new CliError('KEY_FILE_EXISTS', `${keyPath} already exists; not overwriting a key`);

      // Everything that can be checked is checked before the first write.
      const trust = readTrust(trustPath);
      const pair = generateKeyPair();
      const entry = trustedKeyFor(pair.publicKey, opts.role, new Date().toISOString(), { name });
      let next: TrustFile;
      try {
        next = addTrustedKey(trust, entry);
      } catch (err) {
        if (err instanceof RecordsError) throw new CliError(err.code, `${trustPath}: ${err.message}`);
        throw err;
      }

      try {
        writePrivateKeyFile(keyPath, pair.privateKeyPem);
      } catch (err) {
        if (err instanceof RecordsError) {
          // Not created (it opens with O_EXCL): an existing key is never touched.
          if (err.code === 'KEY_FILE_EXISTS') throw new CliError(err.code, err.message);
          throw new CliError('IO_WRITE_FAILED', err.message);
        }
        rmSync(keyPath, { force: true }); // created, but the write failed: no half key stays
        throw ioError('IO_WRITE_FAILED', err, `cannot write ${keyPath}`);
      }
      // Replace trust.json atomically so a reader never sees half a file.
      const tmp = `${trustPath}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, serializeTrustFile(next), { mode: 0o644 });
        renameSync(tmp, trustPath);
      } catch (err) {
        rmSync(tmp, { force: true });
        rmSync(keyPath, { force: true });
        throw ioError('IO_WRITE_FAILED', err, `cannot write ${trustPath}`);
      }

      if (opts.json === true) {
        io.stdout(
          `${JSON.stringify({ kid: pair.kid, role: opts.role, name, key: keyPath, trust: trustPath })}\n`,
        );
      } else {
        io.stdout(
          `${pair.kid} (${opts.role}, ${name})\n  private key: ${keyPath} (mode 0600)\n  trust file:  ${trustPath}\n`,
        );
      }
    });
}
