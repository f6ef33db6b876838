/**
 * The persisted form of one shadow, and the small reads every operation shares.
 */
import { BatonError } from '../../device-sdk/protocol/errors.js';
import type { JsonObject, MetadataTree, ShadowSnapshot } from '../../device-sdk/protocol/shadow.js';

/** What the store persists, one row per (deviceId, shadowName). JSON-serialisable as is. */
export interface StoredShadow {
  desired: JsonObject;
  reported: JsonObject;
  metadata: { desired: MetadataTree; reported: MetadataTree };
  /** The version counter; survives deletion. */
  version: number;
  /** Epoch seconds of the last accepted update or delete. */
  timestamp: number;
  /** Deleted shadows keep their row so the counter survives; they answer NotFound. */
  deleted: boolean;
}

/** The state of a shadow that has none: never written, or deleted. */
export const emptyState = (): Pick<StoredShadow, 'desired' | 'reported' | 'metadata'> => ({
  desired: {},
  reported: {},
  metadata: { desired: {}, reported: {} },
});

export const liveShadow = (s: StoredShadow | undefined): StoredShadow | undefined => (s && !s.deleted ? s : undefined);

/** A shadow never written, or deleted, answers NotFound (AWS: 404 on get and delete). */
export function requireLive(stored: StoredShadow | undefined, clientToken: string | undefined): StoredShadow {
  const s = liveShadow(stored);
  if (s !== undefined) return s;
  throw new BatonError('NotFound', 'no shadow', clientToken === undefined ? undefined : { clientToken });
}

/** The document as `update/documents` shows it: state and metadata without delta, and the version. */
export function toSnapshot(s: StoredShadow): ShadowSnapshot {
  return { state: { desired: s.desired, reported: s.reported }, metadata: s.metadata, version: s.version };
}
