import { describe, expect, it } from 'vitest';
import { verifyBlock, verifyChunkTable } from './block-verifier.js';
import { codeOf, elevenBlocks, flipped } from './test-fixtures.js';

const { CHUNK, image, manifest, table, blocks, block } = elevenBlocks();

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
