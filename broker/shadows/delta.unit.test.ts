import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../device-sdk/protocol/shadow.js';
import { computeDelta } from './delta.js';

type Case = [name: string, desired: JsonObject, reported: JsonObject, delta: JsonObject];

const cases: Case[] = [
  ['both empty', {}, {}, {}],
  ['equal scalars', { a: 1 }, { a: 1 }, {}],
  ['a key only in desired', { a: 1 }, {}, { a: 1 }],
  ['a key only in reported is never in the delta', {}, { a: 1 }, {}],
  ['a differing scalar gives the desired value', { a: 'green' }, { a: 'red' }, { a: 'green' }],
  ['types matter: "1" is not 1', { a: '1' }, { a: 1 }, { a: '1' }],
  ['nested: only the differing leaf', { a: { b: 1, c: 2 } }, { a: { b: 1, c: 3 } }, { a: { c: 2 } }],
  ['nested: all equal gives nothing', { a: { b: 1 } }, { a: { b: 1, extra: 2 } }, {}],
  ['an object desired over a reported scalar is sent whole', { a: { b: 1 } }, { a: 1 }, { a: { b: 1 } }],
  ['a scalar desired over a reported object', { a: 1 }, { a: { b: 1 } }, { a: 1 }],
  ['equal arrays', { a: [1, 2] }, { a: [1, 2] }, {}],
  ['arrays compare as a whole', { a: [1, 2, 3] }, { a: [1, 2, 4] }, { a: [1, 2, 3] }],
  ['array order matters', { a: [1, 2] }, { a: [2, 1] }, { a: [1, 2] }],
  ['object key order does not', { a: [{ x: 1, y: 2 }] }, { a: [{ y: 2, x: 1 }] }, {}],
  ['deep mix', { a: { b: { c: 1, d: [1] } }, e: true }, { a: { b: { c: 1, d: [2] } }, e: true }, { a: { b: { d: [1] } } }],
];

describe('computeDelta', () => {
  it.each(cases)('%s', (_name, desired, reported, expected) => {
    expect(computeDelta(desired, reported)).toEqual(expected);
  });
});
