import { loadStateMap, type CompiledMap } from '@edca/semantic';
import { AuditError } from './errors.js';

/** State maps for replay, keyed by their policy-bundle digest. */
export interface ReplayMaps {
  readonly byDigest: ReadonlyMap<string, CompiledMap>;
}

/**
 * Indexes compiled maps by digest for `verifyJournal({ maps })`.
 * @throws AuditError MAPS_INVALID when two maps share one digest
 */
export function createReplayMaps(maps: readonly CompiledMap[]): ReplayMaps {
  const byDigest = new Map<string, CompiledMap>();
  for (const map of maps) {
    if (byDigest.has(map.digest)) throw new AuditError('MAPS_INVALID', `two maps have digest ${map.digest}`);
    byDigest.set(map.digest, map);
  }
  return { byDigest };
}

/**
 * Loads and compiles state-map sources (YAML or JSON) for replay; a decision is replayed only
 * against the map whose digest it recorded, so a changed map is simply never matched.
 * @throws AuditError MAPS_INVALID with the first diagnostic (file:line:col) when a map does not load or compile
 */
export function loadReplayMaps(
  files: readonly { readonly file: string; readonly text: string }[],
): ReplayMaps {
  const compiled: CompiledMap[] = [];
  for (const { file, text } of files) {
    const loaded = loadStateMap(text, file);
    if (!loaded.ok) {
      const d = loaded.diagnostics.find((x) => x.severity === 'error') ?? loaded.diagnostics[0];
      throw new AuditError(
        'MAPS_INVALID',
        d === undefined
          ? `${file}: does not load`
          : `${file}:${d.line ?? 0}:${d.col ?? 0}: ${d.code}: ${d.message}`,
      );
    }
    compiled.push(loaded.value);
  }
  return createReplayMaps(compiled);
}
