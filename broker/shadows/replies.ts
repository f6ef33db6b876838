/**
 * The messages an accepted update sends besides the documents: `update/accepted` and
 * `update/delta`, shaped as AWS IoT Device Shadow sends them.
 */
import type { JsonObject, ShadowDelta, ShadowUpdateAccepted, ShadowUpdateRequest } from '../../device-sdk/protocol/shadow.js';
import { computeDelta, computeDeltaUnder, isEmptyObject } from './delta.js';
import { jsonEqual } from './json.js';
import { metadataFor } from './metadata.js';
import type { StoredShadow } from './stored.js';

/** Echoes the request's state (nulls included) with the metadata of exactly the leaves it named. */
export function acceptedReply(request: ShadowUpdateRequest, next: StoredShadow): ShadowUpdateAccepted {
  const { version, timestamp } = next;
  const accepted: ShadowUpdateAccepted = { state: {}, metadata: {}, version, timestamp };
  for (const side of ['desired', 'reported'] as const) {
    const patch = request.state[side];
    if (patch === undefined) continue;
    accepted.state[side] = patch;
    accepted.metadata[side] = patch === null ? { timestamp } : metadataFor(patch, next.metadata[side], timestamp);
  }
  if (request.clientToken !== undefined) accepted.clientToken = request.clientToken;
  return accepted;
}

/**
 * Whether a report (an update of `reported` only) changed the delta. It can change only below the
 * keys the report names, so only those are compared, whatever the document's size; a report that
 * clears the section is compared whole. Creating the shadow creates its delta.
 */
function reportChangedDelta(report: JsonObject | null | undefined, prev: StoredShadow | undefined, next: StoredShadow): boolean {
  if (prev === undefined) return true;
  if (report == null) return !jsonEqual(computeDelta(prev.desired, prev.reported), computeDelta(next.desired, next.reported));
  const keys = Object.keys(report);
  return !jsonEqual(computeDeltaUnder(prev.desired, prev.reported, keys), computeDeltaUnder(next.desired, next.reported, keys));
}

/**
 * The whole outstanding delta, sent when there is one and either the request wrote `desired` (an
 * operator re-asserting a command is heard again, as in AWS) or the update changed the delta. A
 * device reporting unrelated fields is not sent the same delta over and over; a device that
 * resolves part of it is sent what remains.
 */
export function deltaMessage(
  request: ShadowUpdateRequest,
  prev: StoredShadow | undefined,
  next: StoredShadow,
): ShadowDelta | undefined {
  if (request.state.desired === undefined && !reportChangedDelta(request.state.reported, prev, next)) return undefined;
  const delta = computeDelta(next.desired, next.reported);
  if (isEmptyObject(delta)) return undefined;
  const metadata = metadataFor(delta, next.metadata.desired, next.timestamp);
  return { state: delta, metadata, version: next.version, timestamp: next.timestamp };
}
