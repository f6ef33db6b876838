import { describe, expect, it } from 'vitest';
import type { JsonObject } from './protocol/shadow.js';
import { ShadowState } from './shadow-state.js';

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
