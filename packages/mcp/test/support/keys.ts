// Keys and a trust file for a server configuration in a temp folder, as an operator would lay
// them out: the kernel key and ref key for the server, the approver key for `edca approve`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  generateKeyPair,
  serializeTrustFile,
  toBase64url,
  trustedKeyFor,
  writePrivateKeyFile,
} from '@edca/records';

export function writeServerKeys(dir: string): { approverKey: string; trust: string } {
  const kernel = generateKeyPair();
  const approver = generateKeyPair();
  writePrivateKeyFile(join(dir, 'kernel.key.pem'), kernel.privateKeyPem);
  writePrivateKeyFile(join(dir, 'approver.key.pem'), approver.privateKeyPem);
  writeFileSync(join(dir, 'ref-key.b64u'), `${toBase64url(new Uint8Array(32).fill(3))}\n`, { mode: 0o600 });
  const trust = join(dir, 'trust.json');
  writeFileSync(
    trust,
    serializeTrustFile({
      version: 1,
      keys: [
        trustedKeyFor(kernel.publicKey, 'kernel', '2020-01-01T00:00:00.000Z'),
        trustedKeyFor(approver.publicKey, 'approver', '2020-01-01T00:00:00.000Z'),
      ],
    }),
  );
  return { approverKey: join(dir, 'approver.key.pem'), trust };
}
