/**
 * What a shadow handle knows of its document: `desired`, `reported` and the version they are as
 * of. Pure: shadow.ts feeds it every document, accepted reply and delta it sees, in whatever
 * order they arrive, and it keeps the newest. A message older than what is known is ignored;
 * one at the same version is applied again, which is harmless because a merge patch is
 * idempotent. Snapshots are frozen and replaced, never mutated, so an app may keep one.
 */
import { isJsonObject } from './protocol/json.js';
import type { JsonObject, JsonValue, ShadowDelta, ShadowDocument, ShadowSnapshot, ShadowUpdateAccepted } from './protocol/shadow.js';

const EMPTY: JsonObject = Object.freeze({});

export class ShadowState {
  desired: JsonObject = EMPTY;
  reported: JsonObject = EMPTY;
  /** The version the snapshots are as of; undefined until a document or reply was seen. */
  version: number | undefined;
  /** False once `get` answered NotFound: the next update creates the shadow, so it carries no version. */
  exists = true;

  /** A whole document (`get/accepted`) or the `current` side of `update/documents`. */
  applyDocument(doc: ShadowDocument | ShadowSnapshot): void {
    if (!this.isCurrent(doc.version)) return;
    this.desired = deepFreeze(doc.state.desired);
    this.reported = deepFreeze(doc.state.reported);
    this.seen(doc.version);
  }

  /** `update/accepted` echoes the request's patches; applying them gives the new sections. */
  applyAccepted(accepted: ShadowUpdateAccepted): void {
    if (!this.isCurrent(accepted.version)) return;
    const { desired, reported } = accepted.state;
    if (desired !== undefined) this.desired = deepFreeze(mergePatch(this.desired, desired));
    if (reported !== undefined) this.reported = deepFreeze(mergePatch(this.reported, reported));
    this.seen(accepted.version);
  }

  /** A delta's leaves are desired values, so they merge into `desired` (a delta holds no nulls). */
  applyDelta(delta: Pick<ShadowDelta, 'state' | 'version'>): void {
    if (!this.isCurrent(delta.version)) return;
    this.desired = deepFreeze(mergePatch(this.desired, delta.state));
    this.seen(delta.version);
  }

  /** `get` answered NotFound: never written, or deleted (the version counter survives, as in AWS). */
  applyNotFound(): void {
    this.desired = EMPTY;
    this.reported = EMPTY;
    this.exists = false;
  }

  /** The optimistic lock a report carries: the version known, unless the shadow is to be created. */
  lockVersion(): number | undefined {
    return this.exists ? this.version : undefined;
  }

  private isCurrent(version: number): boolean {
    return this.version === undefined || version >= this.version;
  }

  private seen(version: number): void {
    this.version = version;
    this.exists = true;
  }
}

/**
 * JSON merge patch with AWS IoT Device Shadow's pruning, the broker's rule
 * (broker/shadows/merge-patch.ts), which the SDK may not import: `null` deletes the key,
 * objects merge recursively, arrays and scalars replace (RFC 7396 §2), and an object left empty
 * is removed as well (AWS; RFC 7396 would keep `{}`). A `null` patch clears the section.
 */
export function mergePatch(target: JsonObject, patch: JsonObject | null): JsonObject {
  if (patch === null) return {};
  const out: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    const merged = mergeValue(target[key], value);
    if (merged === undefined) delete out[key];
    else out[key] = merged;
  }
  return out;
}

function mergeValue(current: JsonValue | undefined, patch: JsonValue): JsonValue | undefined {
  if (patch === null) return undefined;
  if (!isJsonObject(patch)) return patch;
  const merged = mergePatch(isJsonObject(current) ? current : {}, patch);
  return Object.keys(merged).length === 0 ? undefined : merged;
}

function deepFreeze<T extends JsonValue>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}
