/**
 * The whole Ed25519 vector suite through the DEFAULT backend and signers, in a process of its own
 * (run by sodium-fallback.test.ts with and without `EDCA_DISABLE_SODIUM`, so the module cache and the
 * addon's load state are fresh). Prints one JSON line: the backend in use and every vector the
 * defaults got wrong (an empty list when all agree with the expected verdicts).
 */
import {
  RecordsError,
  createSigner,
  createSodiumSigner,
  createWorkerSigner,
  defaultEd25519Backend,
  merkleRoot,
  prepareRecord,
  privateKeyPemFromSeed,
  sealChain,
  toBase64url,
  verifyEd25519,
  verifyRecordLine,
} from '../src/index.js';
import {
  djbSignInput,
  edgeCases,
  rfc8032Section71,
  wycheproofEd25519,
  zip215,
  type SignVector,
} from './ed25519-vectors.js';
import { hex } from './vectors.js';

const wrong: string[] = [];
const counts: Record<string, number> = {};
const count = (suite: string): void => {
  counts[suite] = (counts[suite] ?? 0) + 1;
};

async function signAndVerify(suite: string, v: SignVector): Promise<void> {
  count(suite);
  const signer = createSigner(privateKeyPemFromSeed(hex(v.seed)));
  const msg = hex(v.msg);
  const sig = Buffer.from(await signer.sign(msg)).toString('hex');
  const pubOk = Buffer.from(signer.publicKey).toString('hex') === v.pub;
  const other =
    msg.length === 0 ? new Uint8Array([0]) : Uint8Array.from(msg, (b, i) => (i === 0 ? b ^ 1 : b));
  if (
    !pubOk ||
    sig !== v.sig ||
    !verifyEd25519(hex(v.pub), msg, hex(v.sig)) ||
    verifyEd25519(hex(v.pub), other, hex(v.sig))
  )
    wrong.push(`${suite} ${v.name}`);
}

for (const v of rfc8032Section71()) await signAndVerify('rfc8032', v);
for (const v of djbSignInput()) await signAndVerify('sign.input', v);

for (const t of wycheproofEd25519().tests) {
  count('wycheproof');
  if (verifyEd25519(hex(t.pk), hex(t.msg), hex(t.sig)) !== (t.result === 'valid'))
    wrong.push(`wycheproof tc${t.tcId}`);
}
const zcash = new TextEncoder().encode('Zcash');
for (const [i, c] of zip215().entries()) {
  count('zip215');
  if (verifyEd25519(hex(c.vk_bytes), zcash, hex(c.sig_bytes))) wrong.push(`zip215 ${i}`);
}
for (const [i, c] of edgeCases().entries()) {
  count('many-eddsas');
  if (verifyEd25519(hex(c.pub_key), hex(c.message), hex(c.signature)) !== (i === 3))
    wrong.push(`many-eddsas ${i}`);
}

// The journal's worker signer picks its backend the same way, on its own thread too.
const pem = privateKeyPemFromSeed(new Uint8Array(32).fill(4));
const worker = createWorkerSigner(pem);
// Imports from ../src only (not the test fixtures, which use the package name): one module graph.
const draft = {
  type: 'checkpoint',
  stream: 'fallback',
  seq: 1,
  at: '2026-03-01T09:30:00.000Z',
  kid: worker.kid,
  body: { size: 0, root: toBase64url(merkleRoot([])) },
} as const;
const sealed = await sealChain(null, [prepareRecord(draft)], worker);
const plain = await sealChain(null, [prepareRecord(draft)], createSigner(pem));
await worker.close();
if (Buffer.compare(sealed.lines, plain.lines) !== 0) wrong.push('worker signer bytes');
verifyRecordLine(sealed.records[0]!.bytes, worker.publicKey);

const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'NO_ERROR';
  } catch (e) {
    return e instanceof RecordsError ? e.code : String(e);
  }
};
const one = new Uint8Array(32);
process.stdout.write(
  JSON.stringify({
    backend: defaultEd25519Backend(),
    workerBackend: worker.backend,
    counts,
    wrong,
    namedSodium: {
      verify: codeOf(() => verifyEd25519(one, one, new Uint8Array(64), 'sodium')),
      signer: codeOf(() => createSodiumSigner(pem)),
      worker: codeOf(() => createWorkerSigner(pem, { backend: 'sodium' })),
    },
  }) + '\n',
);
