import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../device-sdk/protocol/errors.js';
import {
  shadowDeleteAcceptedSchema,
  shadowDeltaSchema,
  shadowDocumentSchema,
  shadowDocumentsSchema,
  shadowUpdateAcceptedSchema,
  type ShadowUpdateRequest,
} from '../../device-sdk/protocol/shadow.js';
import { applyUpdate, deleteShadow, toDocument, type StoredShadow, type UpdateContext } from './document.js';
import { resolveShadowLimits } from './limits.js';
import { rejectionOf } from './test-fixtures.js';

const limits = resolveShadowLimits();
const at = (seconds: number, source: UpdateContext['source'] = 'device'): UpdateContext => ({ now: seconds * 1000, limits, source });

/** Applies updates in order, one second apart from t = 1, and returns the last stored shadow. */
function run(...requests: ShadowUpdateRequest[]): StoredShadow {
  return requests.reduce<StoredShadow | undefined>((s, r, i) => applyUpdate(s, r, at(i + 1)).stored, undefined)!;
}

/** Freezes deeply, so any mutation of an input throws (ES modules are strict). */
function frozen<T>(value: T): T {
  if (typeof value === 'object' && value !== null) Object.values(value).forEach(frozen);
  return Object.freeze(value);
}

describe('applyUpdate', () => {
  it('creates a shadow at version 1 with metadata, replies and a delta', () => {
    const r = applyUpdate(undefined, { state: { desired: { color: 'green' }, reported: { color: 'red' } }, clientToken: 'c1' }, at(10));
    expect(r.stored).toEqual({
      desired: { color: 'green' },
      reported: { color: 'red' },
      metadata: { desired: { color: { timestamp: 10 } }, reported: { color: { timestamp: 10 } } },
      version: 1,
      timestamp: 10,
      deleted: false,
    });
    expect(r.accepted).toEqual({
      state: { desired: { color: 'green' }, reported: { color: 'red' } },
      metadata: { desired: { color: { timestamp: 10 } }, reported: { color: { timestamp: 10 } } },
      version: 1,
      timestamp: 10,
      clientToken: 'c1',
    });
    expect(r.delta).toEqual({ state: { color: 'green' }, metadata: { color: { timestamp: 10 } }, version: 1, timestamp: 10 });
    expect(r.documents.previous).toBeNull();
    expect(r.documents.current.version).toBe(1);
  });

  it('increments the version by exactly one per accepted update, no-ops included', () => {
    const versions: number[] = [];
    let s: StoredShadow | undefined;
    for (const req of [{ reported: { a: 1 } }, { reported: { a: 1 } }, { desired: {} }, { desired: null }, { reported: { a: null } }]) {
      s = applyUpdate(s, { state: req }, at(1)).stored;
      versions.push(s.version);
    }
    expect(versions).toEqual([1, 2, 3, 4, 5]);
  });

  it('echoes the patch with nulls in accepted, stamping deleted leaves with now and keeping unchanged ones', () => {
    const s = run({ state: { reported: { a: 1, b: 2 } } });
    const r = applyUpdate(s, { state: { reported: { a: 1, b: null, c: 3 } } }, at(50));
    expect(r.accepted.state).toEqual({ reported: { a: 1, b: null, c: 3 } });
    expect(r.accepted.metadata).toEqual({ reported: { a: { timestamp: 1 }, b: { timestamp: 50 }, c: { timestamp: 50 } } });
    expect(r.stored.metadata.reported).toEqual({ a: { timestamp: 1 }, c: { timestamp: 50 } });
  });

  it('answers a cleared section with one timestamp', () => {
    const r = applyUpdate(run({ state: { desired: { a: 1 } } }), { state: { desired: null } }, at(9));
    expect(r.accepted.metadata).toEqual({ desired: { timestamp: 9 } });
    expect(r.stored.desired).toEqual({});
  });

  it('never mutates the current record or the request', () => {
    const current = frozen(run({ state: { desired: { a: { b: 1 } }, reported: { a: { b: 2 } } } }));
    const request = frozen({ state: { desired: { a: { b: null, c: [1] } } }, clientToken: 'x' });
    expect(() => applyUpdate(current, request, at(5))).not.toThrow();
  });
});

describe('applyUpdate version checks', () => {
  const current = run({ state: { reported: { a: 1 } } }, { state: { reported: { a: 2 } } });

  it.each([
    ['equal to the current version', 2, true],
    ['behind', 1, false],
    ['ahead', 3, false],
  ])('a request version %s', (_name, version, accepted) => {
    const attempt = () => applyUpdate(current, { state: { reported: { a: 3 } }, version, clientToken: 't' }, at(9));
    if (accepted) expect(attempt().stored.version).toBe(3);
    else expect(rejectionOf(attempt)).toEqual({ code: 'VersionConflict', details: { expected: version, current: 2, clientToken: 't' } });
  });

  it('treats a never-written shadow as version 0', () => {
    expect(applyUpdate(undefined, { state: { reported: {} }, version: 0 }, at(1)).stored.version).toBe(1);
    expect(rejectionOf(() => applyUpdate(undefined, { state: { reported: {} }, version: 1 }, at(1))).code).toBe('VersionConflict');
  });
});

describe('deleteShadow', () => {
  const v3 = run({ state: { reported: { a: 1 } } }, { state: { reported: { a: 2 } } }, { state: { desired: { a: 3 } } });

  it('removes state but keeps the version counter without consuming a version', () => {
    const d = deleteShadow(v3, { now: 20_000, source: 'operator', clientToken: 'del' });
    expect(d.stored).toEqual({ desired: {}, reported: {}, metadata: { desired: {}, reported: {} }, version: 3, timestamp: 20, deleted: true });
    expect(shadowDeleteAcceptedSchema.parse(d.accepted)).toEqual({ version: 3, timestamp: 20, clientToken: 'del' });
    expect(d.change.previous.state).toEqual({ desired: { a: 3 }, reported: { a: 2 } });
    expect(d.change.current).toBeNull();
  });

  it('a re-created shadow continues from the old version + 1, with no previous document', () => {
    const deleted = deleteShadow(v3, { now: 20_000, source: 'operator' }).stored;
    const r = applyUpdate(deleted, { state: { reported: { b: 1 } } }, at(30));
    expect(r.stored.version).toBe(4);
    expect(r.stored.desired).toEqual({});
    expect(r.documents.previous).toBeNull();
    expect(applyUpdate(deleted, { state: { reported: {} }, version: 3 }, at(30)).stored.version).toBe(4);
  });

  it.each([
    ['never written', undefined],
    ['already deleted', deleteShadow(v3, { now: 0, source: 'device' }).stored],
  ])('answers NotFound for a shadow %s, on delete and on get', (_name, stored) => {
    expect(rejectionOf(() => deleteShadow(stored, { now: 0, source: 'device', clientToken: 'k' }))).toEqual({
      code: 'NotFound',
      details: { clientToken: 'k' },
    });
    expect(rejectionOf(() => toDocument(stored, 0)).code).toBe('NotFound');
  });
});

describe('applyUpdate rejections leave nothing changed', () => {
  const tight = resolveShadowLimits({ maxStateBytes: 60, maxDepth: 2, maxClientTokenBytes: 8 });
  const current = frozen(applyUpdate(undefined, { state: { reported: { a: 'x'.repeat(20) } } }, { ...at(1), limits: tight }).stored);

  it.each<[string, ErrorCode, ShadowUpdateRequest]>([
    ['a resulting state over maxStateBytes', 'PayloadTooLarge', { state: { desired: { b: 'y'.repeat(30) } } }],
    ['a section nested too deep (admin API path)', 'TooDeep', { state: { desired: { a: { b: { c: 1 } } } } }],
    ['a clientToken over the byte limit', 'InvalidRequest', { state: { desired: {} }, clientToken: 'x'.repeat(9) }],
    ['a stale version', 'VersionConflict', { state: { desired: {} }, version: 7 }],
  ])('%s → %s', (_name, code, request) => {
    expect(rejectionOf(() => applyUpdate(current, request, { ...at(2), limits: tight })).code).toBe(code);
  });

  it('accepts a shrinking update even when only the request would be large', () => {
    const r = applyUpdate(current, { state: { reported: { a: null } } }, { ...at(2), limits: tight });
    expect(r.stored.reported).toEqual({});
  });
});

describe('delta messages', () => {
  const pending = run({ state: { desired: { a: 1, b: 1 }, reported: { a: 0, b: 0 } } });

  it.each<[string, ShadowUpdateRequest, object | undefined]>([
    ['the device reports unrelated fields: not re-sent', { state: { reported: { temp: 20 } } }, undefined],
    ['the device resolves everything: nothing to send', { state: { reported: { a: 1, b: 1 } } }, undefined],
    ['the device resolves part: the rest is sent', { state: { reported: { a: 1 } } }, { b: 1 }],
    ['an operator re-asserts desired: sent again', { state: { desired: { a: 1 } } }, { a: 1, b: 1 }],
    ['an operator clears desired: nothing to send', { state: { desired: null } }, undefined],
    ['the device clears reported: the same delta, not re-sent', { state: { reported: null } }, undefined],
  ])('%s', (_name, request, state) => {
    const r = applyUpdate(pending, request, at(5, 'operator'));
    expect(r.delta?.state).toEqual(state);
    if (r.delta) expect(shadowDeltaSchema.parse(r.delta)).toEqual(r.delta);
  });

  it('a report that breaks an applied nested value sends the whole delta again', () => {
    const applied = run({ state: { desired: { cfg: { x: 1, y: 1 }, led: 'on' }, reported: { cfg: { x: 1, y: 1 }, led: 'off' } } });
    expect(applyUpdate(applied, { state: { reported: { cfg: { y: 2 } } } }, at(5)).delta?.state).toEqual({ cfg: { y: 1 }, led: 'on' });
    expect(applyUpdate(applied, { state: { reported: { cfg: { y: 1 } } } }, at(5)).delta).toBeUndefined();
  });
});

describe('toDocument', () => {
  it('includes a fresh delta and the clock time, and echoes the token', () => {
    const doc = toDocument(run({ state: { desired: { a: 1 }, reported: { a: 0, b: 2 } } }), 99_500, 'g');
    expect(shadowDocumentSchema.parse(doc)).toEqual({
      state: { desired: { a: 1 }, reported: { a: 0, b: 2 }, delta: { a: 1 } },
      metadata: { desired: { a: { timestamp: 1 } }, reported: { a: { timestamp: 1 }, b: { timestamp: 1 } } },
      version: 1,
      timestamp: 99,
      clientToken: 'g',
    });
  });

  it('omits an empty delta', () => {
    expect(toDocument(run({ state: { desired: { a: 1 }, reported: { a: 1 } } }), 0).state).not.toHaveProperty('delta');
  });
});

describe('wire replies match the protocol schemas', () => {
  it('accepted and documents', () => {
    const s = run({ state: { desired: { a: { b: [1, 2] } } } });
    const r = applyUpdate(s, { state: { desired: { a: { b: null } }, reported: { x: true } }, clientToken: 'w' }, at(7));
    expect(shadowUpdateAcceptedSchema.parse(r.accepted)).toEqual(r.accepted);
    expect(shadowDocumentsSchema.parse(r.documents)).toEqual(r.documents);
    expect(r.documents.previous?.state.desired).toEqual({ a: { b: [1, 2] } });
    expect(r.documents.current.state.desired).toEqual({});
  });
});
