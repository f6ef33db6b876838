import { describe, expect, it } from 'vitest';
import type { JobTargets } from './model.js';
import { candidateFilter, matchesTargets, splitCompatible, type TargetDevice } from './targets.js';

const pump: TargetDevice = { id: 'pump-1', deviceClass: 'pump', site: 'plant-a', tags: ['beta', 'eu'], status: 'online' };

describe('target matching', () => {
  it.each<[string, JobTargets, boolean]>([
    ['no selector matches nothing', {}, false],
    ['query {} matches everything', { query: {} }, true],
    ['by id', { devices: ['x', 'pump-1'] }, true],
    ['by another id', { devices: ['x'] }, false],
    ['any of the tags', { tags: ['alpha', 'beta'] }, true],
    ['none of the tags', { tags: ['alpha'] }, false],
    ['device class', { deviceClass: 'pump' }, true],
    ['another device class', { deviceClass: 'valve' }, false],
    ['any of the sites', { sites: ['plant-b', 'plant-a'] }, true],
    ['all selectors must match', { tags: ['beta'], deviceClass: 'valve' }, false],
    ['tags and class', { tags: ['beta'], deviceClass: 'pump' }, true],
    ['query by status', { query: { status: 'online' } }, true],
    ['query by another status', { query: { status: 'offline' } }, false],
    ['query by tag, class and site', { query: { tag: 'eu', deviceClass: 'pump', site: 'plant-a' } }, true],
  ])('%s', (_name, targets, expected) => {
    expect(matchesTargets(pump, targets)).toBe(expected);
  });

  it('narrows the store query to one indexed lookup', () => {
    expect(candidateFilter({ devices: ['a'], tags: ['b'] })).toEqual({ ids: ['a'] });
    expect(candidateFilter({ tags: ['b'], deviceClass: 'pump' })).toEqual({ deviceClass: 'pump' });
    expect(candidateFilter({ sites: ['s'] })).toEqual({ site: 's' });
    expect(candidateFilter({ tags: ['a', 'b'] })).toEqual({});
  });

  it("splits a firmware job's devices by its device class, reporting the others as incompatible", () => {
    const valve = { ...pump, id: 'valve-1', deviceClass: 'valve' };
    const bare = { ...pump, id: 'bare-1', deviceClass: null };
    expect(splitCompatible([pump, valve, bare], { deviceClass: 'pump' })).toEqual({
      compatible: ['pump-1'],
      incompatible: [
        { deviceId: 'valve-1', reason: 'incompatible', deviceClass: 'valve' },
        { deviceId: 'bare-1', reason: 'incompatible', deviceClass: null },
      ],
    });
    expect(splitCompatible([pump, valve], null)).toEqual({ compatible: ['pump-1', 'valve-1'], incompatible: [] });
  });
});
