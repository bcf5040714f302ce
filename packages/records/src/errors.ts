/** Every stable code a `RecordsError` can carry; callers branch on these, never on messages. */
export type RecordsErrorCode =
  // strict I-JSON (RFC 7493) checks and the strict parser
  | 'IJSON_UNDEFINED'
  | 'IJSON_FUNCTION'
  | 'IJSON_SYMBOL'
  | 'IJSON_BIGINT'
  | 'IJSON_NON_FINITE_NUMBER'
  | 'IJSON_UNSAFE_INTEGER'
  | 'IJSON_LONE_SURROGATE'
  | 'IJSON_NON_PLAIN_OBJECT'
  | 'IJSON_DUPLICATE_KEY'
  | 'IJSON_TOO_DEEP'
  | 'IJSON_TOO_LARGE'
  | 'IJSON_SYNTAX'
  // Ed25519 keys and signatures
  | 'SIG_ENCODING'
  | 'SIG_INVALID'
  | 'SIGNER_UNAVAILABLE'
  | 'ED25519_BACKEND_UNAVAILABLE'
  | 'KEY_INVALID'
  | 'KEY_UNSUPPORTED'
  | 'KEY_FILE_PERMISSIONS'
  | 'KEY_FILE_UNREADABLE'
  | 'KEY_UNTRUSTED'
  | 'KEY_FILE_EXISTS'
  // trust file
  | 'TRUST_SYNTAX'
  | 'TRUST_INVALID'
  | 'TRUST_KID_MISMATCH'
  | 'TRUST_DUPLICATE_KID'
  // record envelope
  | 'RECORD_INVALID'
  | 'RECORD_INVALID_BODY'
  | 'RECORD_NOT_CANONICAL'
  | 'RECORD_KID_MISMATCH'
  // RFC 6962 Merkle trees
  | 'MERKLE_RANGE'
  | 'MERKLE_HASH_LENGTH';

/**
 * The one error class of `@edca/records`: a stable `code` plus a human message.
 * @example
 * try { canonicalize({ a: undefined }); } catch (e) { if (e instanceof RecordsError) e.code; }
 */
export class RecordsError extends Error {
  readonly code: RecordsErrorCode;
  /** JSON-pointer-like location of the offending value, when the error concerns a value. */
  readonly path: string | undefined;
  constructor(code: RecordsErrorCode, message: string, path?: string) {
    super(`${code}: ${message}`);
    this.name = 'RecordsError';
    this.code = code;
    this.path = path;
  }
}
