import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chunkTableOf, makeImage, useTempDir, sha256Hex } from '../device-sdk/firmware/test-fixtures.js';
import { createArtifactStore } from './artifact-store.js';

/** An upload as an HTTP body arrives: uneven pieces, never one buffer. */
function streamOf(image: Buffer, pieceSizes = [1000, 7, 65_536, 3]): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0, n = 0; at < image.length; n++) {
        const take = pieceSizes[n % pieceSizes.length]!;
        yield image.subarray(at, at + take);
        at += take;
      }
    })(),
  );
}

describe('artifact store', () => {
  const tmp = useTempDir();

  const firmwareFiles = async () => readdir(join(tmp(), 'firmware')).catch(() => []);

  it('stores a streamed upload under its SHA-256 with its chunk table, and serves block reads', async () => {
    const store = createArtifactStore({ dataDir: tmp() });
    const image = makeImage(100_003);
    const stored = await store.put(streamOf(image), { chunkSize: 4096 });
    const sha256 = sha256Hex(image);
    expect(stored).toMatchObject({ sha256, size: image.length, chunkSize: 4096, path: join(tmp(), 'firmware', `${sha256}.bin`) });
    expect(stored.chunkTable).toEqual(chunkTableOf(image, 4096));
    expect(await readFile(stored.path)).toEqual(image);
    expect((await firmwareFiles()).sort()).toEqual([`${sha256}.4096.chunks`, `${sha256}.bin`]);

    const reader = await store.openReader(sha256);
    expect(reader.size).toBe(image.length);
    expect(await reader.readBlock(0, 4096)).toEqual(image.subarray(0, 4096));
    expect(await reader.readBlock(12, 4096)).toEqual(image.subarray(12 * 4096, 13 * 4096));
    expect(await reader.readBlock(24, 4096)).toEqual(image.subarray(24 * 4096)); // last, 1699 bytes
    expect(await reader.read(99_999, 4)).toEqual(image.subarray(99_999));
    await expect(reader.readBlock(25, 4096)).rejects.toMatchObject({ code: 'InvalidRequest' });
    await expect(reader.read(100_000, 4)).rejects.toMatchObject({ code: 'InvalidRequest' });
    await reader.close();
  });

  it('refuses an image over the size limit with TooLarge and leaves nothing behind', async () => {
    const store = createArtifactStore({ dataDir: tmp(), maxBytes: 10_000 });
    await expect(store.put(streamOf(makeImage(10_001)))).rejects.toMatchObject({ code: 'TooLarge' });
    expect(await firmwareFiles()).toEqual([]);
    const exact = await store.put(streamOf(makeImage(10_000)));
    expect(exact.size).toBe(10_000);
  });

  it('refuses an image whose digest differs from the expected one, leaving nothing behind', async () => {
    const store = createArtifactStore({ dataDir: tmp() });
    const upload = store.put(streamOf(makeImage(5000)), { expectedSha256: sha256Hex(Buffer.from('other')) });
    await expect(upload).rejects.toMatchObject({ code: 'ImageDigestMismatch' });
    expect(await firmwareFiles()).toEqual([]);
  });

  it('cleans up when the upload stream fails midway', async () => {
    const store = createArtifactStore({ dataDir: tmp() });
    const broken = Readable.from(
      (function* () {
        yield Buffer.alloc(5000);
        throw new Error('client went away');
      })(),
    );
    await expect(store.put(broken)).rejects.toThrow('client went away');
    expect(await firmwareFiles()).toEqual([]);
  });

  it('accepts the same image twice and computes chunk tables for other chunk sizes on demand', async () => {
    const store = createArtifactStore({ dataDir: tmp() });
    const image = makeImage(9000);
    const first = await store.put(streamOf(image));
    const again = await store.put(streamOf(image, [9000]));
    expect(again).toEqual(first);
    expect(await store.chunkTable(first.sha256, 256)).toEqual(chunkTableOf(image, 256));
    expect((await stat(join(store.dir, `${first.sha256}.256.chunks`))).isFile()).toBe(true);
    expect(await store.has(first.sha256)).toBe(true);
    await store.remove(first.sha256);
    expect(await store.has(first.sha256)).toBe(false);
    expect(await firmwareFiles()).toEqual([]); // its chunk tables went with it, every chunk size
    await store.remove(first.sha256); // removing what is gone is a no-op
  });

  it('reads a range into a buffer at an offset with one positioned read, and refuses ranges outside the image', async () => {
    const store = createArtifactStore({ dataDir: tmp() });
    const image = makeImage(10_000);
    const reader = await store.openReader((await store.put(streamOf(image))).sha256);
    const target = Buffer.alloc(3000, 0xee);
    await reader.readInto(target, 100, 9000, 1000);
    expect(target.subarray(100, 1100)).toEqual(image.subarray(9000));
    expect(target.subarray(0, 100).every((b) => b === 0xee) && target.subarray(1100).every((b) => b === 0xee)).toBe(true);
    await expect(reader.readInto(target, 0, 9500, 1000)).rejects.toMatchObject({ code: 'InvalidRequest' });
    await expect(reader.readInto(target, 2500, 0, 1000)).rejects.toMatchObject({ code: 'InvalidRequest' });
    await expect(reader.read(0, -1)).rejects.toMatchObject({ code: 'InvalidRequest' });
    await reader.close();
  });

  it('answers NotFound for an unknown image and InvalidRequest for a malformed name', async () => {
    const store = createArtifactStore({ dataDir: tmp() });
    await expect(store.openReader('0'.repeat(64))).rejects.toMatchObject({ code: 'NotFound' });
    await expect(store.chunkTable('0'.repeat(64), 4096)).rejects.toMatchObject({ code: 'NotFound' });
    await expect(store.openReader('../etc/passwd')).rejects.toMatchObject({ code: 'InvalidRequest' });
    await expect(store.put(streamOf(makeImage(10)), { chunkSize: 100 })).rejects.toMatchObject({ code: 'InvalidRequest' });
  });
});
