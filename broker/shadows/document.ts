/**
 * The shadow document's operations: update, delete, get. Pure: the caller loads the stored record,
 * passes the clock's reading, persists what comes back and publishes the messages.
 *
 * Versioning follows AWS IoT Device Shadow: every accepted update adds exactly one; a delete keeps
 * the counter (the deleted version is reported), and a re-created shadow continues from it. AWS
 * forgets the counter after 48 hours; Baton keeps it as long as the row exists.
 */
import { BatonError } from '../../device-sdk/protocol/errors.js';
import type {
  ShadowDelta,
  ShadowDeleteAccepted,
  ShadowDocument,
  ShadowDocuments,
  ShadowSnapshot,
  ShadowUpdateAccepted,
  ShadowUpdateRequest,
} from '../../device-sdk/protocol/shadow.js';
import { historyEntry, type HistoryEntry, type ShadowSource } from './changes.js';
import { computeDelta, isEmptyObject } from './delta.js';
import { checkStateSize, checkUpdateLimits, type ShadowLimits } from './limits.js';
import { mergePatch } from '../../device-sdk/protocol/merge-patch.js';
import { nextMetadata } from './metadata.js';
import { withClientToken } from '../mqtt/request-reply.js';
import { acceptedReply, deltaMessage } from './replies.js';
import { emptyState, liveShadow, requireLive, toSnapshot, type StoredShadow } from './stored.js';
import { toEpochSeconds } from './time.js';

export type { StoredShadow } from './stored.js';

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
  /** For `update/delta`; undefined when nothing is to be sent (see `deltaMessage`). */
  delta: ShadowDelta | undefined;
  /** For `update/documents` and, via `toFleetEvent`, `fleet/events/shadow/{deviceId}`. */
  documents: ShadowDocuments;
  history: HistoryEntry;
}

/** The `get/accepted` document, with its delta computed afresh; NotFound if never written or deleted. */
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
  if (expected === undefined || expected === current) return;
  const message = `version ${expected} is not the current version ${current}`;
  throw new BatonError('VersionConflict', message, { expected, current });
}

/** The next record: merged state, metadata stamped on changed leaves, counter + 1. */
function nextStored(
  prev: StoredShadow | undefined,
  counter: number,
  request: ShadowUpdateRequest,
  timestamp: number,
): StoredShadow {
  const before = prev ?? emptyState();
  const { desired: dPatch, reported: rPatch } = request.state;
  const desired = dPatch === undefined ? before.desired : mergePatch(before.desired, dPatch);
  const reported = rPatch === undefined ? before.reported : mergePatch(before.reported, rPatch);
  // A section the request does not name keeps its metadata as is (what nextMetadata would rebuild).
  const metadata = {
    desired: dPatch === undefined ? before.metadata.desired : nextMetadata(before.desired, before.metadata.desired, desired, timestamp),
    reported: rPatch === undefined ? before.metadata.reported : nextMetadata(before.reported, before.metadata.reported, reported, timestamp),
  };
  return { desired, reported, metadata, version: counter + 1, timestamp, deleted: false };
}

/**
 * Applies an update. Throws, with nothing changed: TooDeep or InvalidRequest for a request over
 * the limits; VersionConflict when `request.version` is not the current counter (0 for a shadow
 * never written, the kept counter for a deleted one); PayloadTooLarge when the result is too big.
 */
export function applyUpdate(
  current: StoredShadow | undefined,
  request: ShadowUpdateRequest,
  ctx: UpdateContext,
): UpdateResult {
  const { clientToken } = request;
  return withClientToken(clientToken, () => {
    checkUpdateLimits(request, ctx.limits);
    const counter = current?.version ?? 0;
    checkVersion(request.version, counter);
    const prev = liveShadow(current);
    const timestamp = toEpochSeconds(ctx.now);
    const stored = nextStored(prev, counter, request, timestamp);
    checkStateSize({ desired: stored.desired, reported: stored.reported }, ctx.limits);
    const snapshot = toSnapshot(stored);
    const documents: ShadowDocuments = { previous: prev ? toSnapshot(prev) : null, current: snapshot, timestamp };
    if (clientToken !== undefined) documents.clientToken = clientToken;
    const history = historyEntry('update', snapshot, { timestamp, source: ctx.source, clientToken, patch: request.state });
    return { stored, accepted: acceptedReply(request, stored), delta: deltaMessage(request, prev, stored), documents, history };
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
  const { clientToken, source } = ctx;
  const prev = requireLive(current, clientToken);
  const timestamp = toEpochSeconds(ctx.now);
  const stored: StoredShadow = { ...emptyState(), version: prev.version, timestamp, deleted: true };
  const accepted: ShadowDeleteAccepted = { version: prev.version, timestamp };
  if (clientToken !== undefined) accepted.clientToken = clientToken;
  const previous = toSnapshot(prev);
  const history = historyEntry('delete', previous, { timestamp, source, clientToken });
  return { stored, accepted, change: { previous, current: null, timestamp }, history };
}
