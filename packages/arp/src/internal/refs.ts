import { createHmac } from 'node:crypto';
import { ArpError } from './errors.js';

/** Who a view is for: refs are bound to one stream (tenant) and one model session. */
export interface ArpSession {
  readonly stream: string;
  readonly session: string;
}

/** What an opaque ref stands for, on the private side only. */
export interface RefTarget {
  readonly kind: string;
  readonly id: string;
}

/**
 * The per-session registry of issued refs (a port: in memory here, shared storage for many
 * kernel instances). A ref resolves only through the session that issued it.
 */
export interface RefRegistry {
  /** Records that `ref` was shown to `session`; idempotent. */
  issue(session: ArpSession, ref: string, target: RefTarget): void;
  /** The target of `ref` if this session was issued it, otherwise undefined. */
  lookup(session: ArpSession, ref: string): RefTarget | undefined;
}

/** The fixed shape of every opaque ref: `ref_` and 22 base64url characters (128 bits of MAC). */
export const REF_PATTERN = /^ref_[A-Za-z0-9_-]{22}$/;

const DOMAIN = 'edca-ref-v1';
const MIN_KEY_BYTES = 32;
const MEMO_LIMIT = 4096;

/** Appends a 4-byte big-endian length and the UTF-8 bytes, so no two field lists share an encoding. */
function lengthPrefixed(fields: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const field of fields) {
    const bytes = Buffer.from(field, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    parts.push(len, bytes);
  }
  return Buffer.concat(parts);
}

/** Derives opaque refs with HMAC-SHA-256; the key never leaves this object. */
export interface RefMinter {
  mint(session: ArpSession, target: RefTarget): string;
}

/**
 * Creates a ref minter: ref = `ref_` + base64url(first 16 bytes of
 * HMAC-SHA-256(key, lp("edca-ref-v1") ‖ lp(stream) ‖ lp(session) ‖ lp(kind) ‖ lp(id))).
 * @throws ArpError REF_KEY_INVALID when the key is shorter than 32 bytes.
 */
export function createRefMinter(key: Uint8Array): RefMinter {
  if (!(key instanceof Uint8Array) || key.length < MIN_KEY_BYTES) {
    throw new ArpError('REF_KEY_INVALID', `the ref key must be at least ${MIN_KEY_BYTES} bytes`);
  }
  const keyCopy = Buffer.from(key);
  // Views of the same session show the same entities again and again; a bounded memo saves the
  // HMAC. The memo key is the length-prefixed input itself, so it is as unambiguous as the MAC.
  const memo = new Map<string, string>();
  return {
    mint(session, target) {
      const { stream, session: id } = session;
      // Length-prefixed like the MAC input; the last field needs no prefix to be unambiguous.
      const memoKey = `${stream.length}:${stream}${id.length}:${id}${target.kind.length}:${target.kind}${target.id}`;
      const hit = memo.get(memoKey);
      if (hit !== undefined) return hit;
      const input = lengthPrefixed([DOMAIN, stream, id, target.kind, target.id]);
      const mac = createHmac('sha256', keyCopy).update(input).digest();
      const ref = `ref_${mac.subarray(0, 16).toString('base64url')}`;
      if (memo.size >= MEMO_LIMIT) memo.clear();
      memo.set(memoKey, ref);
      return ref;
    },
  };
}

function sessionKey(session: ArpSession): string {
  // Length-prefixing keeps ("a:b", "c") and ("a", "b:c") apart.
  return `${session.stream.length}:${session.stream}:${session.session}`;
}

/** An in-memory {@link RefRegistry}, bounded per session so a long session cannot exhaust memory. */
export function createMemoryRefRegistry(options: { maxRefsPerSession?: number } = {}): RefRegistry {
  const max = options.maxRefsPerSession ?? 10_000;
  const sessions = new Map<string, Map<string, RefTarget>>();
  return {
    issue(session, ref, target) {
      const key = sessionKey(session);
      let refs = sessions.get(key);
      if (refs === undefined) {
        refs = new Map();
        sessions.set(key, refs);
      }
      if (refs.has(ref)) return;
      if (refs.size >= max) {
        throw new ArpError('SESSION_INVALID', `session has more than ${max} issued refs`);
      }
      refs.set(ref, { kind: target.kind, id: target.id });
    },
    lookup(session, ref) {
      return sessions.get(sessionKey(session))?.get(ref);
    },
  };
}

/** Checks that a session names a stream and a session id. @throws ArpError SESSION_INVALID */
export function assertSession(session: ArpSession): void {
  if (
    typeof session !== 'object' ||
    session === null ||
    typeof session.stream !== 'string' ||
    typeof session.session !== 'string' ||
    session.stream.length === 0 ||
    session.session.length === 0
  ) {
    throw new ArpError('SESSION_INVALID', 'a session needs a non-empty stream and session id');
  }
}
