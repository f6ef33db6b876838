import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chunkTableOf, makeImage, useTempDir, sha256Hex } from '../device-sdk/firmware/test-fixtures.js';
import { blockCount, blockRange, digestFile, ImageDigester } from './chunk-table.js';

/** Feeds `image` in pieces of the given sizes, cycling, to exercise every boundary case. */
function digestInPieces(image: Buffer, chunkSize: number, pieces: number[]) {
  const digester = new ImageDigester(chunkSize);
  for (let at = 0, n = 0; at < image.length; n++) {
    const take = pieces[n % pieces.length]!;
    digester.update(image.subarray(at, at + take));
    at += take;
  }
  return digester.digest();
}

describe('chunk table', () => {
  it.each([
    [1, 256, 1],
    [255, 256, 1],
    [256, 256, 1],
    [257, 256, 2],
    [4096, 4096, 1],
    [4097, 4096, 2],
    [3 * 4096, 4096, 3],
    [100_003, 1024, 98],
  ])('size %i with chunk size %i has %i blocks, digested the same whatever the piece sizes', (size, chunkSize, count) => {
    const image = makeImage(size);
    expect(blockCount(size, chunkSize)).toBe(count);
    for (const pieces of [[size], [1], [7, 300, 4099], [chunkSize], [chunkSize + 1]]) {
      const digest = digestInPieces(image, chunkSize, pieces);
      expect(digest.size).toBe(size);
      expect(digest.sha256).toBe(sha256Hex(image));
      expect(digest.chunkTable).toEqual(chunkTableOf(image, chunkSize));
      expect(digest.chunkTableSha256).toBe(sha256Hex(digest.chunkTable));
    }
  });

  it('gives each block its byte range, the last one short, and none past the end', () => {
    expect(blockRange(0, 1000, 256)).toEqual({ offset: 0, length: 256 });
    expect(blockRange(3, 1000, 256)).toEqual({ offset: 768, length: 232 });
    expect(blockRange(4, 1000, 256)).toBeUndefined();
    expect(blockRange(-1, 1000, 256)).toBeUndefined();
  });

  describe('digestFile', () => {
    const tmp = useTempDir();

    it('streams a file into the same digest', async () => {
      const image = makeImage(70_000);
      const path = join(tmp(), 'image.bin');
      await writeFile(path, image);
      expect(await digestFile(path, 4096)).toEqual(digestInPieces(image, 4096, [image.length]));
    });
  });
});
