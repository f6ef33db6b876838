/**
 * The shadow document: applying updates, deleting, and the replies each produces. Pure: the
 * caller loads the stored record, passes the clock's reading, and persists what comes back.
 *
 * Versioning follows AWS IoT Device Shadow: every accepted update adds exactly one; a delete keeps
 * the counter (the deleted version is reported), and a re-created shadow continues from it. AWS
 * forgets the counter after 48 hours; Baton keeps it as long as the row exists.
 */
import { BatonError } from '../../device-sdk/protocol/errors.js';
import type {
  JsonObject,
  MetadataTree,
  ShadowDelta,
  ShadowDeleteAccepted,
  ShadowDocument,
  ShadowDocuments,
  ShadowSnapshot,
  ShadowUpdateAccepted,
  ShadowUpdateRequest,
} from '../../device-sdk/protocol/shadow.js';
import { computeDelta, isEmptyObject } from './delta.js';
import { jsonEqual } from './json.js';
import { checkStateSize, checkUpdateLimits, type ShadowLimits } from './limits.js';
import { mergePatch } from './merge-patch.js';
import { metadataFor, nextMetadata } from './metadata.js';
import { withClientToken } from './rejected.js';
import { historyEntry, type HistoryEntry, type ShadowSource } from './changes.js';
import { toEpochSeconds } from './time.js';

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

export interface UpdateContext {
  /** The injected clock's reading, epoch milliseconds. */
  now: number;
  limits: ShadowLimits;
  source: ShadowSource;
}

export interface UpdateResult {
  stored: StoredShadow;
  /** For `update/accepted`. */
  accepted: ShadowUpdateAccepted;
  /** For `update/delta`; undefined when nothing should be sent (see `shouldSendDelta`). */
  delta: ShadowDelta | undefined;
  /** For `update/documents` and, via `toFleetEvent`, `fleet/events/shadow/{deviceId}`. */
  documents: ShadowDocuments;
  history: HistoryEntry;
}

const live = (s: StoredShadow | undefined): StoredShadow | undefined => (s && !s.deleted ? s : undefined);

/** A shadow never written, or deleted, answers NotFound (AWS: 404 on get and delete). */
function requireLive(stored: StoredShadow | undefined, clientToken: string | undefined): StoredShadow {
  const s = live(stored);
  if (s === undefined) throw new BatonError('NotFound', 'no shadow', clientToken === undefined ? undefined : { clientToken });
  return s;
}

export function toSnapshot(s: StoredShadow): ShadowSnapshot {
  return { state: { desired: s.desired, reported: s.reported }, metadata: s.metadata, version: s.version };
}

/** The `get/accepted` document, with its delta computed afresh. */
export function toDocument(stored: StoredShadow | undefined, now: number, clientToken?: string): ShadowDocument {
  const s = requireLive(stored, clientToken);
  const delta = computeDelta(s.desired, s.reported);
  const doc: ShadowDocument = {
    state: { desired: s.desired, reported: s.reported, ...(isEmptyObject(delta) ? {} : { delta }) },
    metadata: s.metadata,
    version: s.version,
    timestamp: toEpochSeconds(now),
  };
  if (clientToken !== undefined) doc.clientToken = clientToken;
  return doc;
}

function checkVersion(expected: number | undefined, current: number): void {
  if (expected !== undefined && expected !== current) {
    throw new BatonError('VersionConflict', `version ${expected} is not the current version ${current}`, {
      expected,
      current,
    });
  }
}

/** The next record: merged state, metadata stamped on changed leaves, version + 1. */
function nextStored(prev: StoredShadow | undefined, counter: number, request: ShadowUpdateRequest, timestamp: number): StoredShadow {
  const before = prev ?? { desired: {}, reported: {}, metadata: { desired: {}, reported: {} } };
  const { desired: dPatch, reported: rPatch } = request.state;
  const desired = dPatch === undefined ? before.desired : mergePatch(before.desired, dPatch);
  const reported = rPatch === undefined ? before.reported : mergePatch(before.reported, rPatch);
  const metadata = {
    desired: nextMetadata(before.desired, before.metadata.desired, desired, timestamp),
    reported: nextMetadata(before.reported, before.metadata.reported, reported, timestamp),
  };
  return { desired, reported, metadata, version: counter + 1, timestamp, deleted: false };
}

function acceptedReply(request: ShadowUpdateRequest, next: StoredShadow): ShadowUpdateAccepted {
  const accepted: ShadowUpdateAccepted = { state: {}, metadata: {}, version: next.version, timestamp: next.timestamp };
  for (const side of ['desired', 'reported'] as const) {
    const patch = request.state[side];
    if (patch === undefined) continue;
    accepted.state[side] = patch;
    accepted.metadata[side] = patch === null ? { timestamp: next.timestamp } : metadataFor(patch, next.metadata[side], next.timestamp);
  }
  if (request.clientToken !== undefined) accepted.clientToken = request.clientToken;
  return accepted;
}

/**
 * A delta goes to the device when one is outstanding and either the request wrote `desired` (an
 * operator re-asserting a command is heard again, as in AWS) or the update changed the delta. A
 * device reporting unrelated fields is not sent the unchanged delta over and over.
 */
function deltaMessage(request: ShadowUpdateRequest, prev: StoredShadow | undefined, next: StoredShadow): ShadowDelta | undefined {
  const delta = computeDelta(next.desired, next.reported);
  if (isEmptyObject(delta)) return undefined;
  const before = prev ? computeDelta(prev.desired, prev.reported) : {};
  if (request.state.desired === undefined && jsonEqual(before, delta)) return undefined;
  return { state: delta, metadata: metadataFor(delta, next.metadata.desired, next.timestamp), version: next.version, timestamp: next.timestamp };
}

/**
 * Applies an update. Throws (with nothing changed) TooDeep / InvalidRequest for a request over
 * the limits, VersionConflict when `request.version` is not the current counter (0 for a shadow
 * never written; the kept counter for a deleted one), PayloadTooLarge when the result is too big.
 */
export function applyUpdate(current: StoredShadow | undefined, request: ShadowUpdateRequest, ctx: UpdateContext): UpdateResult {
  return withClientToken(request.clientToken, () => {
    checkUpdateLimits(request, ctx.limits);
    checkVersion(request.version, current?.version ?? 0);
    const prev = live(current);
    const timestamp = toEpochSeconds(ctx.now);
    const stored = nextStored(prev, current?.version ?? 0, request, timestamp);
    checkStateSize({ desired: stored.desired, reported: stored.reported }, ctx.limits);
    const documents: ShadowDocuments = { previous: prev ? toSnapshot(prev) : null, current: toSnapshot(stored), timestamp };
    if (request.clientToken !== undefined) documents.clientToken = request.clientToken;
    return {
      stored,
      accepted: acceptedReply(request, stored),
      delta: deltaMessage(request, prev, stored),
      documents,
      history: historyEntry('update', documents.current, {
        timestamp,
        source: ctx.source,
        clientToken: request.clientToken,
        patch: request.state,
      }),
    };
  });
}

export interface DeleteContext {
  /** The injected clock's reading, epoch milliseconds. */
  now: number;
  source: ShadowSource;
  clientToken?: string | undefined;
}

export interface DeleteResult {
  stored: StoredShadow;
  /** For `delete/accepted`. */
  accepted: ShadowDeleteAccepted;
  /** For the fleet event (`current: null`); AWS sends no `update/documents` on delete, nor do we. */
  change: { previous: ShadowSnapshot; current: null; timestamp: number };
  history: HistoryEntry;
}

/**
 * Deletes a shadow: state and metadata go, the version counter stays and is not incremented
 * (AWS: a re-created shadow "follows" the deleted one's version). NotFound when there is nothing
 * to delete.
 */
export function deleteShadow(current: StoredShadow | undefined, ctx: DeleteContext): DeleteResult {
  const prev = requireLive(current, ctx.clientToken);
  const timestamp = toEpochSeconds(ctx.now);
  const empty = { desired: {}, reported: {}, metadata: { desired: {}, reported: {} } };
  const stored: StoredShadow = { ...empty, version: prev.version, timestamp, deleted: true };
  const accepted: ShadowDeleteAccepted = { version: prev.version, timestamp };
  if (ctx.clientToken !== undefined) accepted.clientToken = ctx.clientToken;
  const previous = toSnapshot(prev);
  const history = historyEntry('delete', previous, { timestamp, source: ctx.source, clientToken: ctx.clientToken });
  return { stored, accepted, change: { previous, current: null, timestamp }, history };
}
