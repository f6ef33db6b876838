import { describe, expect, it } from 'vitest';
import { shadowDocumentsSchema, shadowFleetEventSchema } from '../../device-sdk/protocol/shadow.js';
import { toFleetEvent } from './changes.js';
import { applyUpdate, deleteShadow } from './document.js';
import { defaultShadowLimits as limits } from './limits.js';
import { documentsJson, fleetEventJson, snapshotJson } from './wire-json.js';

const created = applyUpdate(undefined, { state: { desired: { 'a"b': 'x\u2028y', n: [1, { z: null }] } } }, { now: 1000, limits, source: 'operator' });
const updated = applyUpdate(created.stored, { state: { reported: { n: 2 } }, clientToken: 'tok"1' }, { now: 2000, limits, source: 'device' });
const deleted = deleteShadow(updated.stored, { now: 3000, source: 'device' });

describe('wire JSON', () => {
  it.each([
    ['documents that created the shadow', created.documents],
    ['documents with a previous document and a clientToken', updated.documents],
  ])('%s serialise as JSON.stringify does', (_name, documents) => {
    const parsed: unknown = JSON.parse(documentsJson(documents));
    expect(parsed).toEqual(JSON.parse(JSON.stringify(documents)));
    expect(shadowDocumentsSchema.parse(parsed)).toEqual(documents);
  });

  it.each([
    ['an update of the classic shadow', toFleetEvent('dev-1', undefined, updated.documents)],
    ['a delete of a named shadow', toFleetEvent('dev-1', 'cfg:1', deleted.change)],
  ])('%s as a fleet event serialises as JSON.stringify does', (_name, event) => {
    const parsed: unknown = JSON.parse(fleetEventJson(event));
    expect(parsed).toEqual(JSON.parse(JSON.stringify(event)));
    expect(shadowFleetEventSchema.parse(parsed)).toEqual(event);
  });

  it('serialises a snapshot once, and the history row shares the documents snapshot', () => {
    expect(updated.history.snapshot).toBe(updated.documents.current);
    const first = snapshotJson(updated.documents.current);
    expect(snapshotJson(updated.history.snapshot)).toBe(first);
    expect(snapshotJson(null)).toBe('null');
  });
});
