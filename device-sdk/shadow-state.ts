/**
 * What a shadow handle knows of its document: `desired`, `reported` and the version they are as
 * of. Pure: shadow.ts feeds it every document, accepted reply and delta it sees, in whatever
 * order they arrive, and it keeps the newest. A message older than what is known is ignored;
 * one at the same version is applied again, which is harmless because a merge patch is
 * idempotent. Snapshots are frozen and replaced, never mutated, so an app may keep one.
 */
import { isJsonObject } from './protocol/json.js';
import { mergePatch } from './protocol/merge-patch.js';
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

function deepFreeze<T extends JsonValue>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}
