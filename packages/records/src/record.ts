import { toBase64url } from './base64url.js';
import { digestBytes, isDigest, type Digest } from './digest.js';
import {
  cachedKidOf,
  defaultEd25519Backend,
  verifyEd25519,
  type Ed25519Backend,
  type Signer,
} from './ed25519.js';
import { RecordsError } from './errors.js';
import { canonicalBytes, canonicalize, type JsonValue } from './ijson.js';
import { parseCanonicalJson } from './canonical-parse.js';
import { bodyCheckPath, recordInstantPath } from './fast-decode.js';
import { checkedBodySchemas, isRecordType, recordBodySchemas, type RecordType } from './record-types.js';
import {
  CANONICAL_SIG_PATTERN,
  KID_PATTERN,
  RECORD_AT_PATTERN,
  RECORD_SIGNING_PREFIX,
  SIG_PATTERN,
} from './wire.js';

/** A record before signing: every field here is covered by the signature. */
export interface UnsignedRecord {
  readonly type: RecordType;
  readonly stream: string;
  /** 1 for the first record of a stream, then +1 per record. */
  readonly seq: number;
  /** `recordHash` of the previous record of the stream; null exactly when `seq` is 1. */
  readonly prev: Digest | null;
  /** RFC 3339 UTC with milliseconds, as `Date.prototype.toISOString` writes it. */
  readonly at: string;
  readonly body: JsonValue;
  /** `kidOf` the signing key. */
  readonly kid: string;
}

/** A signed record: `sig` is unpadded base64url of the 64-byte Ed25519 signature. */
export interface SignedRecord extends UnsignedRecord {
  readonly sig: string;
}

/** A signed record together with its exact line bytes and its record hash. */
export interface SealedRecord {
  readonly record: SignedRecord;
  /** The canonical line bytes (no newline): what a journal stores and a Merkle leaf hashes. */
  readonly bytes: Uint8Array;
  readonly hash: Digest;
}

/** Errors as values: the form of every `safe*` function. */
export type Result<T, E = RecordsError> = { ok: true; value: T } | { ok: false; error: E };

/** Largest line a record may have, in bytes (also the I-JSON size limit on the record path). */
export const MAX_RECORD_BYTES = 1_048_576;
const LIMITS = { maxBytes: MAX_RECORD_BYTES } as const;

const UNSIGNED_KEYS = new Set(['type', 'stream', 'seq', 'prev', 'at', 'body', 'kid']);

const invalid = (message: string, path: string): never => {
  throw new RecordsError('RECORD_INVALID', `${message} at /${path}`, `/${path}`);
};

/**
 * Checks the envelope (not the body schema) of a record: exact field set, types and formats.
 * Internal to records (seal-chain.ts); not exported from the package.
 * @throws RecordsError `RECORD_INVALID`
 */
export function checkEnvelope(r: unknown, signed: boolean): asserts r is SignedRecord {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) invalid('not an object', '');
  const rec = r as Record<string, unknown>;
  const keys = Object.keys(rec);
  if (keys.length !== (signed ? 8 : 7)) invalid(signed ? 'expected 8 fields' : 'expected 7 fields', '');
  for (const k of keys) if (!UNSIGNED_KEYS.has(k) && !(signed && k === 'sig')) invalid('unknown field', k);
  if (!isRecordType(rec.type)) invalid('unknown record type', 'type');
  const stream = rec.stream;
  if (typeof stream !== 'string' || stream.length === 0 || stream.length > 256)
    invalid('expected a string of 1..256 characters', 'stream');
  const seq = rec.seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1)
    invalid('expected an integer ≥ 1', 'seq');
  if (rec.prev === null) {
    if (seq !== 1) invalid('only seq 1 has prev null', 'prev');
  } else if (!isDigest(rec.prev)) invalid('expected null or sha256:<hex>', 'prev');
  else if (seq === 1) invalid('seq 1 has prev null', 'prev');
  const at = rec.at;
  if (typeof at !== 'string' || !RECORD_AT_PATTERN.test(at))
    invalid('expected YYYY-MM-DDTHH:MM:SS.sssZ', 'at');
  if (!isRealInstant(at as string)) invalid('not a valid instant', 'at');
  if (typeof rec.kid !== 'string' || !KID_PATTERN.test(rec.kid))
    invalid('expected ed25519:<22 base64url>', 'kid');
  if (!Object.hasOwn(rec, 'body')) invalid('missing', 'body');
  if (signed && (typeof rec.sig !== 'string' || !SIG_PATTERN.test(rec.sig)))
    invalid('expected 86 base64url characters', 'sig');
}

/** For a text of the `at` shape: it names a real instant (`new Date(at).toISOString() === at`). */
function isRealInstant(at: string): boolean {
  // The calendar check answers true only for a real instant; otherwise the Date round trip decides.
  return recordInstantPath.fast(at) === true || recordInstantPath.reference(at);
}

/**
 * True when `at` is a record time: RFC 3339 UTC with milliseconds, `YYYY-MM-DDTHH:MM:SS.sssZ`,
 * naming a real instant, i.e. exactly what `Date.prototype.toISOString` writes for it.
 * @example
 * isRecordInstant('2026-02-28T00:00:00.000Z'); // true;  isRecordInstant('2026-02-30T00:00:00.000Z'); // false
 */
export function isRecordInstant(at: unknown): at is string {
  return typeof at === 'string' && RECORD_AT_PATTERN.test(at) && isRealInstant(at);
}

/**
 * Validates a record's body against `recordBodySchemas[record.type]`.
 * @throws RecordsError `RECORD_INVALID_BODY`
 * @example
 * checkRecordBody({ type: 'checkpoint', body: { size: 1, root: '…' } });
 */
export function checkRecordBody(record: Pick<UnsignedRecord, 'type' | 'body'>): void {
  bodyCheck(record, recordBodySchemas);
}

/**
 * {@link checkRecordBody} against the given schema set. Internal to records (seal-chain.ts).
 * @throws RecordsError `RECORD_INVALID_BODY`
 */
export function bodyCheck(
  record: Pick<UnsignedRecord, 'type' | 'body'>,
  schemas: typeof recordBodySchemas,
): void {
  const parsed = schemas[record.type].safeParse(record.body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue === undefined ? '' : issue.path.map(String).join('/');
    throw new RecordsError(
      'RECORD_INVALID_BODY',
      `${record.type}: ${issue?.message ?? 'invalid'} at /body/${path}`,
      `/body/${path}`,
    );
  }
}

const unsignedOf = (r: UnsignedRecord): UnsignedRecord => ({
  type: r.type,
  stream: r.stream,
  seq: r.seq,
  prev: r.prev,
  at: r.at,
  body: r.body,
  kid: r.kid,
});

// In canonical (RFC 8785 §3.2.3) member order "sig" sorts between "seq" and "stream", so the
// last two members are always "stream" and "type": the signed line is the unsigned line with
// `"sig":"…",` inserted before this tail. Splicing saves a second canonicalization.
const tailOf = (r: UnsignedRecord): string =>
  `"stream":${JSON.stringify(r.stream)},"type":${JSON.stringify(r.type)}}`;

/**
 * The exact bytes an Ed25519 signature covers: `edca-record-v1`, one 0x00 byte, then the RFC
 * 8785 canonical bytes of the record without `sig`.
 * @throws RecordsError `RECORD_INVALID`, `IJSON_*`
 * @example
 * signingMessage(unsigned).subarray(0, 15); // 'edca-record-v1\0'
 */
export function signingMessage(unsigned: UnsignedRecord): Uint8Array {
  checkEnvelope(unsigned, Object.hasOwn(unsigned, 'sig'));
  return Buffer.concat([RECORD_SIGNING_PREFIX, canonicalBytes(unsignedOf(unsigned), LIMITS)]);
}

/**
 * Signs a record and returns it with its line bytes and hash (what a journal stores).
 * @throws RecordsError `RECORD_INVALID`, `RECORD_INVALID_BODY`, `RECORD_KID_MISMATCH`
 *   (`kid` is not the signer's), `SIG_INVALID` (the signer returned a malformed signature), `IJSON_*`
 * @example
 * const { record, bytes, hash } = await sealRecord(unsigned, signer);
 */
export async function sealRecord(unsigned: UnsignedRecord, signer: Signer): Promise<SealedRecord> {
  checkEnvelope(unsigned, false);
  const text = canonicalize(unsigned, LIMITS); // the strict I-JSON check of every field
  // The hand-written check only ever accepts (held to zod by the fast-path harness); otherwise zod decides.
  if (bodyCheckPath.fast(unsigned.type, unsigned.body) !== true) bodyCheck(unsigned, checkedBodySchemas);
  if (unsigned.kid !== signer.kid)
    throw new RecordsError(
      'RECORD_KID_MISMATCH',
      `record kid ${unsigned.kid} is not the signer's ${signer.kid}`,
    );
  // The text is encoded once, straight after the prefix: the signing message and the unsigned line
  // share one buffer, and the line is assembled into one more (no intermediate copies).
  const prefixLength = RECORD_SIGNING_PREFIX.length;
  const message = Buffer.allocUnsafe(prefixLength + Buffer.byteLength(text, 'utf8'));
  message.set(RECORD_SIGNING_PREFIX, 0);
  message.write(text, prefixLength, 'utf8');
  const unsignedBytes = message.subarray(prefixLength);
  const signature = await signer.sign(message);
  if (!(signature instanceof Uint8Array) || signature.length !== 64)
    throw new RecordsError('SIG_INVALID', 'the signer returned a signature that is not 64 bytes');
  const sig = toBase64url(signature);
  const record: SignedRecord = { ...unsignedOf(unsigned), sig };
  const tail = tailOf(unsigned);
  if (!text.endsWith(tail)) throw new Error('invariant: canonical record does not end with stream and type');
  const cut = unsignedBytes.length - Buffer.byteLength(tail, 'utf8');
  const sigMember = `"sig":"${sig}",`;
  const bytes = Buffer.allocUnsafe(unsignedBytes.length + sigMember.length);
  unsignedBytes.copy(bytes, 0, 0, cut);
  bytes.write(sigMember, cut, 'latin1');
  unsignedBytes.copy(bytes, cut + sigMember.length, cut);
  return { record, bytes, hash: digestBytes(bytes) };
}

/**
 * Signs a record: validates envelope and body, checks `kid` is the signer's, then signs the
 * domain-separated canonical bytes.
 * @throws RecordsError like {@link sealRecord}
 * @example
 * const record = await signRecord({ type: 'checkpoint', stream: 's', seq: 1, prev: null, at, body, kid: signer.kid }, signer);
 */
export async function signRecord(unsigned: UnsignedRecord, signer: Signer): Promise<SignedRecord> {
  return (await sealRecord(unsigned, signer)).record;
}

/**
 * The exact line bytes of a signed record: its RFC 8785 canonical JSON, no newline.
 * @throws RecordsError `RECORD_INVALID`, `IJSON_*`
 * @example
 * Buffer.from(encodeRecord(record)).toString(); // '{"at":…,"type":"checkpoint"}'
 */
export function encodeRecord(record: SignedRecord): Uint8Array {
  checkEnvelope(record, true);
  return canonicalBytes(record, LIMITS);
}

/**
 * The record hash: `sha256:` of the full canonical record (with `sig`), i.e. of its line bytes.
 * @throws RecordsError `RECORD_INVALID`, `IJSON_*`
 * @example
 * next.prev === recordHash(record); // the hash chain
 */
export function recordHash(record: SignedRecord): Digest {
  return digestBytes(encodeRecord(record));
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

interface Decoded {
  readonly record: SignedRecord;
  readonly bytes: Buffer;
  /** The body is already known to pass `checkedBodySchemas` (the hand-written check accepted it). */
  readonly bodyChecked: boolean;
}

function decode(line: string | Uint8Array): Decoded {
  let text: string;
  let bytes: Buffer;
  if (typeof line === 'string') {
    text = line;
    bytes = Buffer.from(line, 'utf8');
  } else if (line instanceof Uint8Array) {
    bytes = Buffer.from(line.buffer, line.byteOffset, line.length);
    try {
      text = utf8.decode(bytes);
    } catch {
      throw new RecordsError('RECORD_NOT_CANONICAL', 'line is not valid UTF-8');
    }
  } else throw new TypeError('decodeRecord takes a string or a Uint8Array');
  if (bytes.length > MAX_RECORD_BYTES)
    throw new RecordsError('IJSON_TOO_LARGE', `line larger than ${MAX_RECORD_BYTES} bytes`);
  // One pass both parses and proves the line is the RFC 8785 form (no re-serialization): this
  // refuses whitespace, reordered or duplicated keys, other number or escape spellings, a BOM.
  const value = parseCanonicalJson(text, LIMITS);
  checkEnvelope(value, true);
  // The hand-written body check only ever accepts; when it does not, zod decides (and says why).
  return { record: value, bytes, bodyChecked: bodyCheckPath.fast(value.type, value.body) === true };
}

/**
 * Parses one journal line strictly: valid UTF-8, I-JSON, the exact envelope, byte-for-byte
 * canonical, and a body that matches its type's schema.
 * @throws RecordsError `IJSON_SYNTAX`, `IJSON_*`, `RECORD_INVALID`, `RECORD_NOT_CANONICAL`, `RECORD_INVALID_BODY`
 * @example
 * decodeRecord(encodeRecord(record)); // deep-equals record
 */
export function decodeRecord(line: string | Uint8Array): SignedRecord {
  const { record, bodyChecked } = decode(line);
  if (!bodyChecked) bodyCheck(record, checkedBodySchemas);
  return record;
}

function checkSignature(
  record: SignedRecord,
  publicKey: Uint8Array,
  message: Uint8Array,
  backend: Ed25519Backend,
): void {
  if (record.kid !== cachedKidOf(publicKey))
    throw new RecordsError('RECORD_KID_MISMATCH', `record kid ${record.kid} is not this key's`);
  // 64 bytes are 86 base64url characters; the last carries 2 data bits and 4 zero bits, so only
  // A, Q, g, w are canonical there (checkEnvelope already pinned length and alphabet).
  if (!CANONICAL_SIG_PATTERN.test(record.sig))
    throw new RecordsError('SIG_ENCODING', 'sig is not canonical unpadded base64url of 64 bytes');
  const sig = Buffer.from(record.sig, 'base64url');
  if (!verifyEd25519(publicKey, message, sig, backend))
    throw new RecordsError('SIG_INVALID', 'the signature does not verify under the strict Ed25519 policy');
}

/**
 * Verifies a signed record object against a raw public key (strict Ed25519 policy).
 * @throws RecordsError `RECORD_INVALID`, `IJSON_*`, `KEY_INVALID`, `RECORD_KID_MISMATCH`, `SIG_ENCODING`, `SIG_INVALID`
 * @example
 * verifyRecord(record, signer.publicKey); // returns, or throws RecordsError
 */
export function verifyRecord(
  record: SignedRecord,
  publicKey: Uint8Array,
  backend: Ed25519Backend = defaultEd25519Backend(),
): void {
  checkEnvelope(record, true);
  const message = Buffer.concat([RECORD_SIGNING_PREFIX, canonicalBytes(unsignedOf(record), LIMITS)]);
  checkSignature(record, publicKey, message, backend);
}

/**
 * {@link verifyRecord} with errors as values.
 * @example
 * const r = safeVerifyRecord(record, key); if (!r.ok) r.error.code;
 */
export function safeVerifyRecord(
  record: SignedRecord,
  publicKey: Uint8Array,
  backend: Ed25519Backend = defaultEd25519Backend(),
): Result<SignedRecord> {
  try {
    verifyRecord(record, publicKey, backend);
    return { ok: true, value: record };
  } catch (error) {
    if (error instanceof RecordsError) return { ok: false, error };
    throw error;
  }
}

/** A public key, or a function that picks one for a decoded (not yet verified) record. */
export type KeyChoice = Uint8Array | ((record: SignedRecord) => Uint8Array | undefined);

/**
 * Audit fast path: decodes a journal line strictly and verifies its signature over those very
 * bytes (the `sig` member is cut out of the line, no second canonicalization).
 * @throws RecordsError like {@link decodeRecord} and {@link verifyRecord}, and `KEY_UNTRUSTED`
 *   when `key` is a function that returns undefined
 * @example
 * const { record, hash } = verifyRecordLine(line, (r) => keys.get(r.kid));
 */
export function verifyRecordLine(
  line: string | Uint8Array,
  key: KeyChoice,
  backend: Ed25519Backend = defaultEd25519Backend(),
): SealedRecord {
  const { record, bytes, bodyChecked } = decode(line);
  if (!bodyChecked) bodyCheck(record, checkedBodySchemas);
  const publicKey = typeof key === 'function' ? key(record) : key;
  if (publicKey === undefined) throw new RecordsError('KEY_UNTRUSTED', `no trusted key for ${record.kid}`);
  checkSignature(record, publicKey, signingMessageOfLine(record, bytes), backend);
  return { record, bytes, hash: digestBytes(bytes) };
}

/**
 * The signing message of a record from its canonical line bytes: the `sig` member cut out (it sits
 * right before the `stream` and `type` tail), behind the signing prefix.
 */
function signingMessageOfLine(record: SignedRecord, bytes: Buffer): Buffer {
  const tailLength = Buffer.byteLength(tailOf(record), 'utf8');
  const member = `"sig":"${record.sig}",`;
  const cut = bytes.length - tailLength - member.length;
  if (bytes.toString('latin1', cut, cut + member.length) !== member)
    throw new Error('invariant: canonical record has no sig member before stream and type');
  return Buffer.concat([RECORD_SIGNING_PREFIX, bytes.subarray(0, cut), bytes.subarray(cut + member.length)]);
}

/**
 * {@link verifyRecord} and {@link recordHash} in one: the record is canonicalized once, its
 * signature checked over those bytes with `sig` cut out, and their hash returned.
 * @throws RecordsError like {@link verifyRecord}
 * @example
 * const hash = verifyRecordHash(permit.record, signer.publicKey);
 */
export function verifyRecordHash(
  record: SignedRecord,
  publicKey: Uint8Array,
  backend: Ed25519Backend = defaultEd25519Backend(),
): Digest {
  const encoded = encodeRecord(record);
  const bytes = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.length);
  checkSignature(record, publicKey, signingMessageOfLine(record, bytes), backend);
  return digestBytes(bytes);
}

/**
 * {@link verifyRecordLine} with errors as values.
 * @example
 * const r = safeVerifyRecordLine(line, key); if (r.ok) r.value.hash;
 */
export function safeVerifyRecordLine(
  line: string | Uint8Array,
  key: KeyChoice,
  backend: Ed25519Backend = defaultEd25519Backend(),
): Result<SealedRecord> {
  try {
    return { ok: true, value: verifyRecordLine(line, key, backend) };
  } catch (error) {
    if (error instanceof RecordsError) return { ok: false, error };
    throw error;
  }
}
