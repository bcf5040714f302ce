import { RecordsError, type RecordsErrorCode } from './errors.js';

const B64URL_RE = /^[A-Za-z0-9_-]*$/;

/**
 * Unpadded base64url (RFC 4648 §5) of bytes.
 * @example
 * toBase64url(new Uint8Array([255])); // '_w'
 */
export function toBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');
}

/**
 * Strict decoding of unpadded base64url: refuses padding, other alphabets, non-canonical
 * trailing bits and, when `length` is given, any other byte length.
 * @throws RecordsError with `code` (default `RECORD_INVALID`)
 * @example
 * fromBase64url('_w'); // Uint8Array [255]
 */
export function fromBase64url(
  text: string,
  length?: number,
  code: RecordsErrorCode = 'RECORD_INVALID',
): Uint8Array {
  if (!B64URL_RE.test(text) || text.length % 4 === 1) throw new RecordsError(code, 'not unpadded base64url');
  const bytes = Buffer.from(text, 'base64url');
  // Re-encoding must give the same text, so each byte string has exactly one encoding.
  if (bytes.toString('base64url') !== text) throw new RecordsError(code, 'non-canonical base64url');
  if (length !== undefined && bytes.length !== length)
    throw new RecordsError(code, `expected ${length} bytes, got ${bytes.length}`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}
