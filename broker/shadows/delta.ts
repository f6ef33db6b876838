/**
 * The delta: the part of `desired` that `reported` does not yet match (AWS IoT Device Shadow,
 * "Delta state"). Keys only in `reported` never appear; objects are compared key by key; arrays
 * and scalars compare as a whole, so a one-element change re-sends the whole array, as in AWS.
 */
import type { JsonObject } from '../../device-sdk/protocol/shadow.js';
import { isJsonObject, jsonEqual, pickKeys } from './json.js';

export function computeDelta(desired: JsonObject, reported: JsonObject): JsonObject {
  const delta: JsonObject = {};
  for (const [key, want] of Object.entries(desired)) {
    const have = reported[key];
    if (isJsonObject(want) && isJsonObject(have)) {
      const inner = computeDelta(want, have);
      if (Object.keys(inner).length > 0) delta[key] = inner;
    } else if (!jsonEqual(want, have)) {
      delta[key] = want;
    }
  }
  return delta;
}

/**
 * The delta below the given top-level keys: all that an update naming only these keys can have
 * changed, since the delta below a key depends only on desired and reported below that key.
 */
export const computeDeltaUnder = (desired: JsonObject, reported: JsonObject, keys: readonly string[]): JsonObject =>
  computeDelta(pickKeys(desired, keys), pickKeys(reported, keys));

export const isEmptyObject = (value: JsonObject): boolean => Object.keys(value).length === 0;
