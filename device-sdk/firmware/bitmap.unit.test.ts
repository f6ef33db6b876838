import { describe, expect, it } from 'vitest';
import { BatonError } from '../protocol/errors.js';
import { BlockBitmap } from './bitmap.js';

describe('BlockBitmap', () => {
  it('counts set and cleared bits and lists missing runs, at most 64 blocks a request', () => {
    const bitmap = new BlockBitmap(200);
    for (const i of [0, 1, 2, 5, 70, 70]) bitmap.set(i);
    bitmap.clear(1);
    bitmap.clear(1);
    expect(bitmap.verifiedCount).toBe(4);
    expect(bitmap.missingRuns()).toEqual([[1, 1], [3, 2], [6, 61]]);
    expect(bitmap.missingRuns(10)).toEqual([[1, 1], [3, 2], [6, 7]]);
  });

  it('ignores stored bits past the last block', () => {
    expect(new BlockBitmap(3, Uint8Array.of(0xff)).verifiedCount).toBe(3);
  });

  it('refuses an index outside the image, and bytes of the wrong length', () => {
    expect(() => new BlockBitmap(8).set(8)).toThrow(BatonError);
    expect(() => new BlockBitmap(8).clear(-1)).toThrow(BatonError);
    expect(() => new BlockBitmap(9, new Uint8Array(1))).toThrow(BatonError);
  });
});
