// Which Ed25519 backends the vector tests cross: all three wherever sodium-native has a working
// prebuilt binary, so a broken install fails the suite instead of silently testing less.
import { report } from 'node:process';
import { isEd25519BackendAvailable, type Ed25519Backend } from '@edca/records';

/** True when `EDCA_DISABLE_SODIUM` keeps the addon unloaded (the fallback run). */
export const sodiumDisabled = ((v) => v !== undefined && v !== '' && v !== '0')(
  process.env['EDCA_DISABLE_SODIUM'],
);

const glibc = (): string | undefined => {
  const header = (report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
  return header?.glibcVersionRuntime;
};

/**
 * Whether sodium-native 5.1.0 ships a binary for this platform that must load: linux x64/arm64 with
 * glibc ≥ 2.33 (none for musl), macOS, Windows.
 */
export const sodiumExpected = ((): boolean => {
  if (sodiumDisabled) return false;
  if (process.platform === 'darwin' || process.platform === 'win32') return true;
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) return false;
  const [major = 0, minor = 0] = (glibc() ?? '0.0').split('.').map(Number);
  return major > 2 || (major === 2 && minor >= 33);
})();

/** The backends to run every vector on. */
export const BACKENDS: readonly Ed25519Backend[] =
  sodiumExpected || isEd25519BackendAvailable('sodium')
    ? ['sodium', 'node', 'tweetnacl']
    : ['node', 'tweetnacl'];
