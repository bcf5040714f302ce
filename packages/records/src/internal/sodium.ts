/**
 * Loads `sodium-native` (libsodium), an optional dependency, for Ed25519. Loading can fail for
 * good reasons (not installed, no prebuilt binary for this platform, e.g. musl, an older glibc), and
 * then node:crypto does the work: every caller asks {@link sodiumAddon} and falls back when it
 * gives `undefined`. The addon is loaded at most once per thread, on first use, and only trusted
 * after it reproduces RFC 8032 test 1 exactly, so a broken binary can only ever mean the fallback.
 */
import { createRequire } from 'node:module';

/** The three libsodium functions edca uses, as sodium-native exposes them. */
export interface SodiumEd25519 {
  crypto_sign_seed_keypair(publicKey: Uint8Array, secretKey: Uint8Array, seed: Uint8Array): void;
  crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void;
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

/** Set to `1` to keep the addon unloaded (tests of the fallback; hosts that forbid native code). */
export const SODIUM_DISABLE_ENV = 'EDCA_DISABLE_SODIUM';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
// RFC 8032 §7.1 TEST 1 (the empty message).
const T1_SEED = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
const T1_PUBLIC = hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
const T1_SIG = hex(
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
);

type Loaded =
  | { readonly addon: SodiumEd25519; readonly path: string }
  | { readonly addon: undefined; readonly reason: string };

// A module cache: the addon is looked for once per process (loading is the slow part, and the answer
// cannot change while the process runs).
let loaded: Loaded | undefined;

function isAddon(value: unknown): value is SodiumEd25519 {
  const v = value as Partial<Record<keyof SodiumEd25519, unknown>> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.crypto_sign_seed_keypair === 'function' &&
    typeof v.crypto_sign_detached === 'function' &&
    typeof v.crypto_sign_verify_detached === 'function'
  );
}

function selfTest(s: SodiumEd25519): boolean {
  const publicKey = new Uint8Array(32);
  const secretKey = new Uint8Array(64);
  s.crypto_sign_seed_keypair(publicKey, secretKey, T1_SEED);
  const sig = new Uint8Array(64);
  s.crypto_sign_detached(sig, new Uint8Array(0), secretKey);
  const tampered = Uint8Array.from(sig);
  tampered[0] = (tampered[0] ?? 0) ^ 1;
  return (
    Buffer.from(publicKey).equals(T1_PUBLIC) &&
    Buffer.from(sig).equals(T1_SIG) &&
    s.crypto_sign_verify_detached(sig, new Uint8Array(0), publicKey) &&
    !s.crypto_sign_verify_detached(tampered, new Uint8Array(0), publicKey)
  );
}

function load(): Loaded {
  const flag = process.env[SODIUM_DISABLE_ENV];
  if (flag !== undefined && flag !== '' && flag !== '0')
    return { addon: undefined, reason: `${SODIUM_DISABLE_ENV} is set` };
  try {
    const require = createRequire(import.meta.url);
    const path = require.resolve('sodium-native');
    const addon: unknown = require(path);
    if (!isAddon(addon)) return { addon: undefined, reason: 'sodium-native lacks the Ed25519 functions' };
    if (!selfTest(addon)) return { addon: undefined, reason: 'sodium-native failed the RFC 8032 self-test' };
    return { addon, path };
  } catch (error) {
    return {
      addon: undefined,
      reason: `sodium-native does not load: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/** libsodium's Ed25519, or `undefined` when the addon does not load here (then use node:crypto). */
export function sodiumAddon(): SodiumEd25519 | undefined {
  loaded ??= load();
  return loaded.addon;
}

/** The resolved file of the loaded addon, for worker threads to `require`; `undefined` when not loaded. */
export function sodiumAddonPath(): string | undefined {
  loaded ??= load();
  return loaded.addon === undefined ? undefined : loaded.path;
}

/** Why the addon is not in use, or `undefined` when it is. */
export function sodiumUnavailableReason(): string | undefined {
  loaded ??= load();
  return loaded.addon === undefined ? loaded.reason : undefined;
}
