/**
 * What the shadow service needs from a store. Async, so a PostgreSQL store (multi-node
 * deployments) can implement it as well as the SQLite one in `broker/store/sqlite/shadows.ts`.
 */
import type { HistoryEntry } from './changes.js';
import type { StoredShadow } from './stored.js';

/** One shadow. `shadowName` undefined is the classic (unnamed) shadow, as in `topics.shadow`. */
export interface ShadowKey {
  deviceId: string;
  shadowName: string | undefined;
}

/** What a change persists: the next record and its history row. `applyUpdate` and `deleteShadow` return it. */
export interface ShadowWrite {
  stored: StoredShadow;
  history: HistoryEntry;
}

/** A live shadow of a device, for listings. */
export interface ShadowSummary {
  /** null for the classic shadow. */
  name: string | null;
  version: number;
  /** Epoch seconds of the last change. */
  timestamp: number;
}

export interface ShadowRepo {
  /** The record, live or deleted; undefined if never written. */
  get(key: ShadowKey): Promise<StoredShadow | undefined>;
  /**
   * Read-modify-write of one shadow: reads the record, passes it to `change` (pure; it may throw,
   * and then nothing is written) and persists the result with its history and leaf rows.
   * Changes to one shadow are serialized, and the promise resolves only once the write is
   * durable. NotFound when the device does not exist.
   */
  change<W extends ShadowWrite>(key: ShadowKey, change: (current: StoredShadow | undefined) => W): Promise<W>;
  /** The device's live shadows, classic first, then by name. */
  list(deviceId: string): Promise<ShadowSummary[]>;
  /** The kept history, newest first (a delete before the update of the same version); all of it without `limit`. */
  history(key: ShadowKey, limit?: number): Promise<HistoryEntry[]>;
}
