// Child of signature-pool.test.ts: started with Node options a worker may not set (V8 and
// per-process flags); checks one good and one bad signature on a worker and prints the verdicts.
import { createNodeSigner, generateKeyPair } from '@edca/records';
import { createWorkerVerifier } from '../src/internal/signature-pool.js';

const { privateKeyPem, publicKey } = generateKeyPair(new Uint8Array(32).fill(7));
const message = Buffer.from('a record the auditor checks');
const signature = await createNodeSigner(privateKeyPem).sign(message);
const forged = Uint8Array.from(signature);
forged[0]! ^= 1;
const verdicts: boolean[] = [];
const pool = createWorkerVerifier([publicKey], 1, (valid, tag) => (verdicts[tag] = valid), 'node', {
  helpInline: false,
});
pool.submit(0, message, signature, 0);
pool.submit(0, message, forged, 1);
await pool.drain();
await pool.close();
process.stdout.write(`${JSON.stringify({ verdicts, inline: pool.inline })}\n`);
