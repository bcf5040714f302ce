// Shared loaders for the Ed25519 vector files (see test/vectors/README.md).
import { readVector, readVectorJson } from './vectors.js';

export interface SignVector {
  readonly name: string;
  readonly seed: string;
  readonly pub: string;
  readonly msg: string;
  readonly sig: string;
}

/** djb's sign.input: `sk‖pk : pk : msg : sig‖msg`, hex, one vector per line. */
export function djbSignInput(): SignVector[] {
  return readVector('rfc8032-noble-ed25519/test/vectors/ed25519/vectors.txt')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line, i) => {
      const [skpk = '', pub = '', msg = '', sigmsg = ''] = line.split(':');
      return { name: `line ${i + 1}`, seed: skpk.slice(0, 64), pub, msg, sig: sigmsg.slice(0, 128) };
    });
}

export function rfc8032Section71(): SignVector[] {
  const file = readVectorJson<{
    vectors: { name: string; priv: string; pub: string; msg: string; sig: string }[];
  }>('rfc8032-section7.1-ed25519.json');
  return file.vectors.map((v) => ({ name: v.name, seed: v.priv, pub: v.pub, msg: v.msg, sig: v.sig }));
}

export interface WycheproofTest {
  readonly tcId: number;
  readonly comment: string;
  readonly flags: readonly string[];
  readonly msg: string;
  readonly sig: string;
  readonly result: 'valid' | 'invalid' | 'acceptable';
  readonly pk: string;
}

export function wycheproofEd25519(): { numberOfTests: number; tests: WycheproofTest[] } {
  const file = readVectorJson<{
    numberOfTests: number;
    testGroups: { publicKey: { pk: string }; tests: Omit<WycheproofTest, 'pk'>[] }[];
  }>('wycheproof/testvectors_v1/ed25519_test.json');
  return {
    numberOfTests: file.numberOfTests,
    tests: file.testGroups.flatMap((g) => g.tests.map((t) => ({ ...t, pk: g.publicKey.pk }))),
  };
}

export const edgeCases = (): { message: string; pub_key: string; signature: string }[] =>
  readVectorJson('rfc8032-noble-ed25519/test/vectors/ed25519/edge-cases.json');

export const zip215 = (): {
  vk_bytes: string;
  sig_bytes: string;
  valid_legacy: boolean;
  valid_zip215: boolean;
}[] => readVectorJson('rfc8032-noble-ed25519/test/vectors/ed25519/zip215.json');
