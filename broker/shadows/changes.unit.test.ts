import { describe, expect, it } from 'vitest';
import { shadowFleetEventSchema } from '../../device-sdk/protocol/shadow.js';
import { DEFAULT_HISTORY_VERSIONS, historyCutoff, toFleetEvent } from './changes.js';
import { applyUpdate, deleteShadow, type StoredShadow } from './document.js';
import { defaultShadowLimits as limits } from './limits.js';

const created = applyUpdate(undefined, { state: { desired: { fw: '1.2.0' } }, clientToken: 'op-1' }, { now: 1000, limits, source: 'operator' });
const reported = applyUpdate(created.stored, { state: { reported: { fw: '1.2.0', tmp: null } } }, { now: 2000, limits, source: 'device' });
const deleted = deleteShadow(reported.stored, { now: 3000, source: 'operator', clientToken: 'op-2' });

describe('history entries', () => {
  it('record kind, version, time, source, token, the patch as sent and the resulting document', () => {
    expect(created.history).toEqual({
      kind: 'update',
      version: 1,
      timestamp: 1,
      source: 'operator',
      clientToken: 'op-1',
      patch: { desired: { fw: '1.2.0' } },
      snapshot: created.documents.current,
    });
    expect(reported.history.patch).toEqual({ reported: { fw: '1.2.0', tmp: null } });
    expect(reported.history).not.toHaveProperty('clientToken');
  });

  it('a delete shares the version of the last update, with another kind, and keeps what was removed', () => {
    expect(deleted.history).toEqual({
      kind: 'delete',
      version: 2,
      timestamp: 3,
      source: 'operator',
      clientToken: 'op-2',
      snapshot: reported.documents.current,
    });
    expect([reported.history, deleted.history].map((h) => `${h.version}/${h.kind}`)).toEqual(['2/update', '2/delete']);
  });

  it('stored records and history entries survive a JSON round trip unchanged', () => {
    for (const value of [created.stored, reported.stored, deleted.stored, created.history, reported.history, deleted.history]) {
      expect(JSON.parse(JSON.stringify(value))).toEqual(value);
    }
    const roundTripped = JSON.parse(JSON.stringify(reported.stored)) as StoredShadow;
    const next = applyUpdate(roundTripped, { state: { reported: { fw: '1.3.0' } } }, { now: 4000, limits, source: 'device' });
    expect(next.stored.version).toBe(3);
  });

  it.each([
    [21, DEFAULT_HISTORY_VERSIONS, 1],
    [5, DEFAULT_HISTORY_VERSIONS, -15],
    [10, 3, 7],
  ])('after version %i keeping %i, prune versions ≤ %i', (version, keep, cutoff) => {
    expect(historyCutoff(version, keep)).toBe(cutoff);
  });
});

describe('toFleetEvent', () => {
  it.each([
    ['an update of a named shadow', 'config', reported.documents, 'config'],
    ['a delete of the classic shadow', undefined, deleted.change, null],
  ])('%s', (_name, shadowName, change, expectedName) => {
    const event = toFleetEvent('dev-1', shadowName, change);
    expect(shadowFleetEventSchema.parse(event)).toEqual({
      deviceId: 'dev-1',
      shadowName: expectedName,
      previous: change.previous,
      current: change.current,
      timestamp: change.timestamp,
    });
  });
});
