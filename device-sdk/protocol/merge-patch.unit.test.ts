import { describe, expect, it } from 'vitest';
import type { JsonObject } from './shadow.js';
import { mergePatch } from './merge-patch.js';

type Case = [name: string, target: JsonObject, patch: JsonObject | null, expected: JsonObject];

const cases: Case[] = [
  ['adds a key', {}, { a: 1 }, { a: 1 }],
  ['replaces a scalar', { a: 1 }, { a: 'x' }, { a: 'x' }],
  ['null deletes a key', { a: 1, b: 2 }, { a: null }, { b: 2 }],
  ['null on a missing key is a no-op', { a: 1 }, { z: null }, { a: 1 }],
  ['objects merge recursively', { a: { b: 1, c: 2 } }, { a: { c: 3, d: 4 } }, { a: { b: 1, c: 3, d: 4 } }],
  ['an emptied object is removed (AWS)', { a: { b: 1 }, x: 1 }, { a: { b: null } }, { x: 1 }],
  ['emptied objects are removed up the chain', { a: { b: { c: 1 } } }, { a: { b: { c: null } } }, {}],
  ['a parent that keeps a key stays', { a: { b: { c: 1 }, d: 1 } }, { a: { b: { c: null } } }, { a: { d: 1 } }],
  ['arrays replace', { a: [1, 2, 3] }, { a: [4] }, { a: [4] }],
  ['arrays of objects replace whole', { a: [{ x: 1 }] }, { a: [{ y: 2 }] }, { a: [{ y: 2 }] }],
  ['null inside an array is a value, not a delete', {}, { a: [null, 1] }, { a: [null, 1] }],
  ['an object replaces a scalar', { a: 1 }, { a: { b: 2 } }, { a: { b: 2 } }],
  ['a scalar replaces an object', { a: { b: 1 } }, { a: 5 }, { a: 5 }],
  ['an array replaces an object', { a: { b: 1 } }, { a: [1] }, { a: [1] }],
  ['an empty array is kept (only objects are pruned)', { a: [1] }, { a: [] }, { a: [] }],
  ['an empty object patch on a missing key adds nothing', {}, { a: {} }, {}],
  ['a patch of only nulls over a scalar removes it', { a: 1 }, { a: { b: null } }, {}],
  ['an empty patch changes nothing', { a: 1 }, {}, { a: 1 }],
  ['a null section clears it (AWS "desired": null)', { a: 1, b: { c: 2 } }, null, {}],
  ['false and 0 are values, not deletes', { a: 1, b: 1 }, { a: false, b: 0 }, { a: false, b: 0 }],
];

describe('mergePatch', () => {
  it.each(cases)('%s', (_name, target, patch, expected) => {
    expect(mergePatch(target, patch)).toEqual(expected);
  });

  it('never mutates its inputs', () => {
    const target = { a: { b: 1, c: [1] }, d: 1 };
    const patch = { a: { b: null, e: 2 }, d: null };
    const [t0, p0] = [structuredClone(target), structuredClone(patch)];
    mergePatch(target, patch);
    expect([target, patch]).toEqual([t0, p0]);
  });
});
