import { describe, expect, it } from 'vitest';
import { BlockBitmap } from './bitmap.js';
import { requestedBlocks } from './stream-request.js';
import { codeOf } from './test-fixtures.js';

describe('requestedBlocks', () => {
  it('expands runs into distinct ascending indices', () => {
    expect(requestedBlocks({ clientToken: 't1', blocks: [[5, 2], [0, 1], [6, 2]] }, 10)).toEqual([0, 5, 6, 7]);
  });

  it('accepts what a device asks for after a partial download', () => {
    const bitmap = new BlockBitmap(300);
    for (let i = 0; i < 300; i += 3) bitmap.set(i);
    expect(requestedBlocks({ blocks: bitmap.missingRuns() }, 300)).toHaveLength(64);
  });

  it.each([
    ['no blocks', { blocks: [] }],
    ['a zero count', { blocks: [[0, 0]] }],
    ['a negative index', { blocks: [[-1, 1]] }],
    ['a run past the last block', { blocks: [[199, 2]] }],
    ['more than 64 blocks in all', { blocks: [[0, 64], [64, 1]] }],
    ['an unknown field', { blocks: [[0, 1]], all: true }],
    ['a long client token', { clientToken: 'x'.repeat(65), blocks: [[0, 1]] }],
    ['not an object', 'blocks'],
  ])('refuses %s with InvalidRequest', async (_name, request) => {
    expect(await codeOf(() => requestedBlocks(request, 200))).toBe('InvalidRequest');
  });
});
