import { describe, expect, it } from 'vitest';
import type { JsonObject, MetadataTree } from '../../device-sdk/protocol/shadow.js';
import { metadataFor, nextMetadata } from './metadata.js';

const T0 = 100;
const T1 = 200;

type NextCase = [name: string, prev: JsonObject, prevMeta: MetadataTree, next: JsonObject, expected: MetadataTree];

const nextCases: NextCase[] = [
  ['a new leaf is stamped', {}, {}, { a: 1 }, { a: { timestamp: T1 } }],
  ['an unchanged leaf keeps its timestamp', { a: 1 }, { a: { timestamp: T0 } }, { a: 1 }, { a: { timestamp: T0 } }],
  ['a changed leaf is stamped', { a: 1 }, { a: { timestamp: T0 } }, { a: 2 }, { a: { timestamp: T1 } }],
  ['a removed leaf loses its metadata', { a: 1, b: 1 }, { a: { timestamp: T0 }, b: { timestamp: T0 } }, { b: 1 }, { b: { timestamp: T0 } }],
  [
    'only the changed leaf of a subtree is stamped',
    { a: { b: 1, c: 1 } },
    { a: { b: { timestamp: T0 }, c: { timestamp: T0 } } },
    { a: { b: 1, c: 2 } },
    { a: { b: { timestamp: T0 }, c: { timestamp: T1 } } },
  ],
  ['a scalar turned object stamps the new subtree', { a: 1 }, { a: { timestamp: T0 } }, { a: { b: 1 } }, { a: { b: { timestamp: T1 } } }],
  ['an object turned scalar is one new leaf', { a: { b: 1 } }, { a: { b: { timestamp: T0 } } }, { a: 1 }, { a: { timestamp: T1 } }],
  ['an array is one leaf: unchanged', { a: [1, 2] }, { a: { timestamp: T0 } }, { a: [1, 2] }, { a: { timestamp: T0 } }],
  ['an array is one leaf: changed', { a: [1, 2] }, { a: { timestamp: T0 } }, { a: [1, 3] }, { a: { timestamp: T1 } }],
  [
    'a state key called timestamp',
    { timestamp: 5 },
    { timestamp: { timestamp: T0 } },
    { timestamp: 5, x: { timestamp: 6 } },
    { timestamp: { timestamp: T0 }, x: { timestamp: { timestamp: T1 } } },
  ],
  ['missing old metadata is repaired with the new time', { a: 1 }, {}, { a: 1 }, { a: { timestamp: T1 } }],
];

describe('nextMetadata: timestamps change only on changed leaves', () => {
  it.each(nextCases)('%s', (_name, prev, prevMeta, next, expected) => {
    expect(nextMetadata(prev, prevMeta, next, T1)).toEqual(expected);
  });
});

type ForCase = [name: string, shape: JsonObject, meta: MetadataTree, expected: MetadataTree];

const forCases: ForCase[] = [
  ['leaves read from the metadata', { a: 1 }, { a: { timestamp: T0 }, b: { timestamp: T0 } }, { a: { timestamp: T0 } }],
  ['a deleted leaf (null) gets the fallback', { a: null }, {}, { a: { timestamp: T1 } }],
  ['nested', { a: { b: 1 } }, { a: { b: { timestamp: T0 }, c: { timestamp: T0 } } }, { a: { b: { timestamp: T0 } } }],
  ['a subtree without leaves is left out', { a: {} }, {}, {}],
];

describe('metadataFor', () => {
  it.each(forCases)('%s', (_name, shape, meta, expected) => {
    expect(metadataFor(shape, meta, T1)).toEqual(expected);
  });
});
