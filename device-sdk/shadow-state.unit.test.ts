import { describe, expect, it } from 'vitest';
import type { JsonObject } from './protocol/shadow.js';
import { mergePatch, ShadowState } from './shadow-state.js';

describe('mergePatch (the broker rule, AWS pruning)', () => {
  const table: Array<[string, JsonObject, JsonObject | null, JsonObject]> = [
    ['adds and replaces', { a: 1 }, { a: 2, b: 'x' }, { a: 2, b: 'x' }],
    ['null deletes a key', { a: 1, b: 2 }, { a: null }, { b: 2 }],
    ['objects merge recursively', { net: { ssid: 'p', rssi: -60 } }, { net: { rssi: -50 } }, { net: { ssid: 'p', rssi: -50 } }],
    ['an emptied object goes too', { net: { rssi: -60 }, a: 1 }, { net: { rssi: null } }, { a: 1 }],
    ['arrays replace whole', { l: [1, 2, 3] }, { l: [4] }, { l: [4] }],
    ['an object replaces a scalar', { a: 1 }, { a: { b: 1 } }, { a: { b: 1 } }],
    ['a null patch clears the section', { a: 1 }, null, {}],
  ];
  it.each(table)('%s', (_, target, patch, expected) => {
    const before = structuredClone(target);
    expect(mergePatch(target, patch)).toEqual(expected);
    expect(target).toEqual(before);
  });
});

const doc = (version: number, desired: JsonObject, reported: JsonObject) => ({
  state: { desired, reported }, metadata: { desired: {}, reported: {} }, version, timestamp: 0,
});

describe('ShadowState', () => {
  it('follows documents, accepted replies and deltas, and ignores older ones', () => {
    const s = new ShadowState();
    s.applyDocument(doc(3, { led: 'on' }, { led: 'off', fw: '1' }));
    s.applyAccepted({ state: { reported: { led: 'on' } }, metadata: {}, version: 4, timestamp: 0 });
    s.applyDelta({ state: { mode: 'eco' }, version: 5 });
    s.applyDocument(doc(2, { old: true }, {}));
    expect([s.desired, s.reported, s.version]).toEqual([{ led: 'on', mode: 'eco' }, { led: 'on', fw: '1' }, 5]);
    expect(Object.isFrozen(s.desired)).toBe(true);
  });

  it('sends no version after NotFound, so the next report creates the shadow', () => {
    const s = new ShadowState();
    expect(s.lockVersion()).toBeUndefined();
    s.applyDocument(doc(7, {}, { a: 1 }));
    expect(s.lockVersion()).toBe(7);
    s.applyNotFound();
    expect([s.desired, s.reported, s.lockVersion()]).toEqual([{}, {}, undefined]);
  });
});
