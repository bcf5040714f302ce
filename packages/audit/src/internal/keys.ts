import type { TrustFile, TrustedKey } from '@edca/records';
import type { FindingCode } from '../findings.js';

/** A trusted key with its validity window parsed once, and its index in the signature workers' key table. */
export interface IndexedKey {
  readonly key: TrustedKey;
  readonly index: number;
  readonly raw: Uint8Array;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
}

/** The trust file indexed by kid (kids are unique in a trust file: records refuses duplicates). */
export class KeyIndex {
  readonly byKid = new Map<string, IndexedKey>();
  readonly table: IndexedKey[] = [];

  constructor(trust: TrustFile) {
    for (const key of trust.keys) {
      const entry: IndexedKey = {
        key,
        index: this.table.length,
        raw: Buffer.from(key.publicKey, 'base64url'),
        notBeforeMs: Date.parse(key.notBefore),
        notAfterMs: key.notAfter === null ? Number.POSITIVE_INFINITY : Date.parse(key.notAfter),
      };
      this.table.push(entry);
      this.byKid.set(key.kid, entry);
    }
  }

  /**
   * Finds the key `kid` for `role` at time `atMs`, or says which of the three conditions fails
   * (checked in this order, so a finding names the first thing that is wrong).
   */
  check(
    kid: string,
    role: string,
    atMs: number,
  ): { ok: true; key: IndexedKey } | { ok: false; code: FindingCode; message: string } {
    const entry = this.byKid.get(kid);
    if (entry === undefined)
      return { ok: false, code: 'UNKNOWN_KEY', message: `key ${kid} is not in the trust file` };
    if (entry.key.role !== role) {
      return {
        ok: false,
        code: 'KEY_ROLE_MISMATCH',
        message: `key ${kid} has role ${entry.key.role} in the trust file; ${role} is required`,
      };
    }
    // notBefore inclusive, notAfter exclusive (docs/record-format.md §Trust file, findTrustedKey).
    if (!(atMs >= entry.notBeforeMs && atMs < entry.notAfterMs)) {
      return {
        ok: false,
        code: 'KEY_NOT_VALID_AT',
        message: `key ${kid} is valid from ${entry.key.notBefore} to ${entry.key.notAfter ?? 'open end'}, not at the record's time`,
      };
    }
    return { ok: true, key: entry };
  }
}
