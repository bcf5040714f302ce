// Locates the read-only conformance vectors, kept in the repository at `test/vectors/`.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of a file under the repository's `test/vectors/`. */
export const vectorPath = (rel: string): string =>
  fileURLToPath(new URL(`../../../test/vectors/${rel}`, import.meta.url));

export const readVector = (rel: string): string => readFileSync(vectorPath(rel), 'utf8');

export const readVectorJson = <T>(rel: string): T => JSON.parse(readVector(rel)) as T;

export const listVectors = (rel: string): string[] => readdirSync(vectorPath(rel)).sort();

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/** Every `.json` file below a vectors folder, recursively, as paths relative to that folder. */
export const listJsonFilesDeep = (rel: string): string[] =>
  readdirSync(vectorPath(rel), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .sort();
