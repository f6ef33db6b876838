/**
 * Records of a change, for those who were not part of the request: history rows the store keeps
 * (the last N versions per shadow) and the event integrations read on `fleet/events/shadow/…`.
 */
import type {
  ShadowFleetEvent,
  ShadowSnapshot,
  ShadowStatePatch,
} from '../../device-sdk/protocol/shadow.js';

/** Who wrote: a device over MQTT, or an operator through the admin API. Recorded, never enforced here. */
export type ShadowSource = 'device' | 'operator';

/** How many versions of history the store keeps per shadow, by default. */
export const DEFAULT_HISTORY_VERSIONS = 20;

/**
 * One history row. `version` and `kind` identify it within a shadow: a delete does not consume a
 * version, so it shares its version with the update that preceded it, but never its kind.
 */
export interface HistoryEntry {
  kind: 'update' | 'delete';
  version: number;
  /** Epoch seconds. */
  timestamp: number;
  source: ShadowSource;
  clientToken?: string;
  /** Update only: the request's state as sent, nulls kept, so an audit shows intent, not only result. */
  patch?: ShadowStatePatch;
  /** Update: the document after it. Delete: the document that was removed. */
  snapshot: ShadowSnapshot;
}

export function historyEntry(
  kind: HistoryEntry['kind'],
  snapshot: ShadowSnapshot,
  at: { timestamp: number; source: ShadowSource; clientToken?: string | undefined; patch?: ShadowStatePatch },
): HistoryEntry {
  const entry: HistoryEntry = { kind, version: snapshot.version, timestamp: at.timestamp, source: at.source, snapshot };
  if (at.clientToken !== undefined) entry.clientToken = at.clientToken;
  if (at.patch !== undefined) entry.patch = at.patch;
  return entry;
}

/** After writing `version`, history rows with a version at or below this may be pruned. */
export const historyCutoff = (version: number, keep: number = DEFAULT_HISTORY_VERSIONS): number => version - keep;

/** The integration event for a change; `shadowName` undefined is the classic shadow. */
export function toFleetEvent(
  deviceId: string,
  shadowName: string | undefined,
  change: { previous: ShadowSnapshot | null; current: ShadowSnapshot | null; timestamp: number },
): ShadowFleetEvent {
  const { previous, current, timestamp } = change;
  return { deviceId, shadowName: shadowName ?? null, previous, current, timestamp };
}
