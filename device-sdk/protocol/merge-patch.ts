/**
 * JSON merge patch for shadow state sections: RFC 7396 with AWS IoT Device Shadow's pruning.
 *
 * - `null` deletes the key (RFC 7396 §2);
 * - objects merge recursively; arrays and scalars replace (RFC 7396 §2: only objects merge);
 * - an object left empty is removed as well. AWS removes an object whose last key was deleted;
 *   RFC 7396 would keep `{}`. We apply it everywhere, so stored state never holds an empty object
 *   (and metadata, which mirrors state, never holds an empty subtree).
 *
 * Shared by the broker's shadow core and the SDK's shadow snapshots, so both apply one rule.
 * Inputs are never mutated; unchanged subtrees may be shared with the result.
 */
import { isJsonObject } from './json.js';
import type { JsonObject, JsonValue } from './shadow.js';

/** Applies `patch` to one section (`desired` or `reported`); a `null` patch clears the section (AWS). */
export function mergePatch(target: JsonObject, patch: JsonObject | null): JsonObject {
  if (patch === null) return {};
  return mergeObjects(target, patch);
}

function mergeObjects(target: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    const merged = mergeValue(target[key], value);
    if (merged === undefined) delete out[key];
    else out[key] = merged;
  }
  return out;
}

/** The new value at one key; `undefined` means the key goes away. */
function mergeValue(current: JsonValue | undefined, patch: JsonValue): JsonValue | undefined {
  if (patch === null) return undefined;
  if (!isJsonObject(patch)) return patch;
  // A non-object is replaced by an object before merging (RFC 7396 §2, `Target = {}`).
  const merged = mergeObjects(isJsonObject(current) ? current : {}, patch);
  return Object.keys(merged).length === 0 ? undefined : merged;
}
