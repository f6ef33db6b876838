import { readFile, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { BlockBitmap } from './bitmap.js';
import { verifyBlock, verifyChunkTable } from './block-verifier.js';
import { DownloadAssembler } from './download-assembler.js';
import { blockCount } from './manifest.js';
import { chunkTableOf, codeOf, makeImage, manifestFor, useTempDir } from './test-fixtures.js';

const CHUNK = 1024;
const image = makeImage(10 * CHUNK + 300); // 11 blocks, the last one short
const manifest = manifestFor(image, { keyId: 'k1', chunkSize: CHUNK });
const table = chunkTableOf(image, CHUNK);
const blocks = blockCount(image.length, CHUNK);
const block = (i: number) => Buffer.from(image.subarray(i * CHUNK, (i + 1) * CHUNK));

function flipped(data: Buffer, at: number): Buffer {
  const copy = Buffer.from(data);
  copy[at] = (copy[at] ?? 0) ^ 0x01;
  return copy;
}

describe('verifyChunkTable and verifyBlock', () => {
  it('accepts the genuine table and every genuine block', async () => {
    expect(await codeOf(() => verifyChunkTable(table, manifest))).toBe('none');
    for (let i = 0; i < blocks; i++) verifyBlock(manifest, table, i, block(i));
  });

  it.each([
    ['a flipped table byte', flipped(table, 40)],
    ['a truncated table', table.subarray(0, table.length - 32)],
    ['an extra table entry', Buffer.concat([table, table.subarray(0, 32)])],
  ])('refuses %s with ChunkTableMismatch', async (_name, bad) => {
    expect(await codeOf(() => verifyChunkTable(bad, manifest))).toBe('ChunkTableMismatch');
  });

  it.each([
    ['start', 0, 0, 'ChunkDigestMismatch'],
    ['middle', 5, 511, 'ChunkDigestMismatch'],
    ['end', blocks - 1, 299, 'ChunkDigestMismatch'],
  ] as const)('refuses a block with a byte flipped at the image %s', async (_where, index, at, code) => {
    expect(await codeOf(() => verifyBlock(manifest, table, index, flipped(block(index), at)))).toBe(code);
  });

  it.each([
    ['one byte more than the last block holds', blocks - 1, () => Buffer.concat([block(blocks - 1), Buffer.alloc(1)]), 'TooLarge'],
    ['a block past the end of the image', blocks, () => Buffer.alloc(1), 'TooLarge'],
    ['a full block one byte too long', 0, () => Buffer.concat([block(0), Buffer.alloc(1)]), 'TooLarge'],
    ['a short block', 0, () => block(0).subarray(1), 'ChunkDigestMismatch'],
    ['another block in this slot', 1, () => block(2), 'ChunkDigestMismatch'],
  ] as const)('refuses %s', async (_name, index, data, code) => {
    expect(await codeOf(() => verifyBlock(manifest, table, index, data()))).toBe(code);
  });
});

describe('DownloadAssembler', () => {
  const tmp = useTempDir();
  const slot = () => join(tmp(), 'slot.bin');
  const persisted: BlockBitmap[] = [];
  const persist = async (bitmap: BlockBitmap) => {
    persisted.push(new BlockBitmap(bitmap.blockCount, Buffer.from(bitmap.toBase64(), 'base64')));
  };

  beforeEach(() => {
    persisted.length = 0;
  });

  const openAssembler = (verified?: BlockBitmap) =>
    DownloadAssembler.open({ path: slot(), manifest, chunkTable: table, persist, ...(verified ? { verified } : {}) });

  it('assembles blocks delivered out of order, ignores duplicates, and checks the whole image', async () => {
    const assembler = await openAssembler();
    const order = [10, 3, 0, 7, 1, 2, 9, 4, 8, 6, 5];
    for (const i of order) expect(await assembler.accept(i, block(i))).toBe(true);
    expect(await assembler.accept(3, block(3))).toBe(false);
    await assembler.finish();
    await assembler.close();
    expect(await readFile(slot())).toEqual(image);
    expect(persisted.map((b) => b.verifiedCount)).toEqual(order.map((_, n) => n + 1));
  });

  it('refuses the chunk table up front', async () => {
    const bad = flipped(table, 0);
    expect(await codeOf(() => DownloadAssembler.open({ path: slot(), manifest, chunkTable: bad, persist }))).toBe(
      'ChunkTableMismatch',
    );
  });

  it('writes nothing for a refused block', async () => {
    const assembler = await openAssembler();
    expect(await codeOf(() => assembler.accept(0, flipped(block(0), 0)))).toBe('ChunkDigestMismatch');
    expect(assembler.verified.verifiedCount).toBe(0);
    expect(persisted).toEqual([]);
    await assembler.close();
  });

  it.each([
    ['start', 0],
    ['middle', Math.floor(image.length / 2)],
    ['end', image.length - 1],
  ])('reports ImageDigestMismatch when storage corrupts a byte at the %s', async (_where, at) => {
    const assembler = await openAssembler();
    for (let i = 0; i < blocks; i++) await assembler.accept(i, block(i));
    const handle = await open(slot(), 'r+');
    await handle.write(Buffer.from([(image[at] ?? 0) ^ 0x80]), 0, 1, at);
    await handle.close();
    expect(await codeOf(() => assembler.finish())).toBe('ImageDigestMismatch');
    await assembler.close();
  });

  it('refuses to finish with blocks missing', async () => {
    const assembler = await openAssembler();
    await assembler.accept(0, block(0));
    expect(await codeOf(() => assembler.finish())).toBe('Conflict');
    await assembler.close();
  });

  it('after a restart re-downloads only the block that was in flight', async () => {
    let crashAt = 5;
    const crashing = async (bitmap: BlockBitmap) => {
      if (bitmap.has(crashAt)) throw new Error('power cut after the block was synced, before the state was');
      await persist(bitmap);
    };
    const first = await DownloadAssembler.open({ path: slot(), manifest, chunkTable: table, persist: crashing });
    for (let i = 0; i < crashAt; i++) await first.accept(i, block(i));
    await expect(first.accept(crashAt, block(crashAt))).rejects.toThrow('power cut');
    await first.close();

    const resumed = await openAssembler(persisted.at(-1));
    expect(resumed.missingRuns()).toEqual([[crashAt, blocks - crashAt]]);
    crashAt = -1;
    for (let i = 5; i < blocks; i++) await resumed.accept(i, block(i));
    await resumed.finish();
    await resumed.close();
  });

  it('ignores a persisted bitmap when the slot file is gone', async () => {
    const claimed = new BlockBitmap(blocks);
    claimed.set(0);
    const assembler = await openAssembler(claimed);
    expect(assembler.verified.verifiedCount).toBe(0);
    await assembler.close();
  });

  it('pre-sizes the slot to the image size', async () => {
    await writeFile(slot(), Buffer.alloc(image.length * 2));
    const assembler = await openAssembler();
    await assembler.close();
    expect((await readFile(slot())).length).toBe(image.length);
  });
});
