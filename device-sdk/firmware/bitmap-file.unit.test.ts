import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BitmapFile } from './bitmap-file.js';
import { sha256Hex, useTempDir } from './test-fixtures.js';

const BLOCKS = 21; // 3 bytes, the last one partly used
const table = sha256Hex(Buffer.from('chunk table A'));
const otherTable = sha256Hex(Buffer.from('chunk table B'));
const marked = (file: BitmapFile) => Array.from({ length: BLOCKS }, (_, i) => i).filter((i) => file.bitmap.has(i));

describe('BitmapFile', () => {
  const tmp = useTempDir();
  const path = () => join(tmp(), 'image.bin.bitmap');

  it('creates a 40-byte header plus one bit a block, mode 0600, and keeps marks across a reopen', async () => {
    const first = await BitmapFile.open(path(), BLOCKS, table);
    expect(marked(first)).toEqual([]);
    await first.mark([20, 0, 7]);
    await first.mark([8]);
    await first.unmark([7]);
    await first.sync();
    await first.close();
    expect((await stat(path())).size).toBe(40 + 3);
    expect((await stat(path())).mode & 0o777).toBe(0o600);

    const again = await BitmapFile.open(path(), BLOCKS, table);
    expect(marked(again)).toEqual([0, 8, 20]);
    expect(again.bitmap.verifiedCount).toBe(3);
    await again.close();
  });

  it('has a mark in the file as soon as mark() resolves, without sync or close (a killed process loses nothing)', async () => {
    const writer = await BitmapFile.open(path(), BLOCKS, table);
    await writer.mark([3]);
    const reader = await BitmapFile.open(path(), BLOCKS, table);
    expect(marked(reader)).toEqual([3]);
    await Promise.all([writer.close(), reader.close()]);
  });

  it('keeps every bit of one byte when writes are issued at once (they land in order)', async () => {
    const file = await BitmapFile.open(path(), BLOCKS, table);
    await Promise.all([0, 1, 2, 3, 4, 5, 6, 7, 16, 17].map((i) => file.mark([i])));
    await file.close();
    expect((await readFile(path())).subarray(40)).toEqual(Buffer.from([0xff, 0x00, 0x03]));
  });

  it.each([
    ['of another chunk table', async (p: string) => {
      const other = await BitmapFile.open(p, BLOCKS, otherTable);
      await other.mark([1]);
      await other.close();
    }],
    ['of another length', async (p: string) => writeFile(p, Buffer.concat([await headerOf(p), Buffer.alloc(9, 0xff)]))],
    ['with a torn header', async (p: string) => writeFile(p, (await headerOf(p)).subarray(0, 20))],
    ['of another format', async (p: string) => writeFile(p, Buffer.alloc(43, 0xff))],
    ['that is empty', async (p: string) => writeFile(p, '')],
  ])('starts afresh over a file %s, and works from there', async (_name, spoil) => {
    await spoil(path());
    const file = await BitmapFile.open(path(), BLOCKS, table);
    expect(file.bitmap.verifiedCount).toBe(0);
    await file.mark([2]);
    await file.close();
    expect(marked(await reopen(path()))).toEqual([2]);
  });
});

/** The header a bitmap for `table` gets (by creating one at `path`). */
async function headerOf(path: string): Promise<Buffer> {
  await (await BitmapFile.open(path, BLOCKS, table)).close();
  return (await readFile(path)).subarray(0, 40);
}

async function reopen(path: string): Promise<BitmapFile> {
  const file = await BitmapFile.open(path, BLOCKS, table);
  await file.close();
  return file;
}
