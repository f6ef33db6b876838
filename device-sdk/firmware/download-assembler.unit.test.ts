import { readFile, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../test-fixtures.js';
import { BitmapFile } from './bitmap-file.js';
import { bitmapPathOf, DownloadAssembler } from './download-assembler.js';
import { codeOf, elevenBlocks, flipped, sha256Hex, useTempDir } from './test-fixtures.js';

const { CHUNK, image, manifest, table, blocks, block } = elevenBlocks();
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

describe('DownloadAssembler', () => {
  const tmp = useTempDir();
  const slot = () => join(tmp(), 'slot.bin');
  /** Syncs only when the test advances this clock (or on finish/close). */
  let clock = new ManualClock();
  const openAssembler = () => DownloadAssembler.open({ path: slot(), manifest, chunkTable: table, sync: { intervalMs: 1000, clock, now: () => clock.now } });
  /** Assemblers a test may leave open, as a killed process would; closed after it. */
  const unclosed: DownloadAssembler[] = [];
  const openUnclosed = async () => {
    const assembler = await openAssembler();
    unclosed.push(assembler);
    return assembler;
  };

  afterEach(async () => {
    clock = new ManualClock();
    vi.restoreAllMocks();
    await Promise.allSettled(unclosed.splice(0).map((a) => a.close()));
  });

  /** FileHandle's prototype, to watch (or fail) its calls. */
  async function fileHandlePrototype(): Promise<FileHandle> {
    const handle = await open(join(tmp(), 'probe'), 'w');
    await handle.close();
    return Object.getPrototypeOf(handle) as FileHandle;
  }

  /** Counts calls of a FileHandle method on any handle (each still runs for real). */
  async function countCalls(method: 'datasync' | 'writev'): Promise<{ calls: number }> {
    const proto = await fileHandlePrototype();
    const real = proto[method] as (...args: unknown[]) => Promise<unknown>;
    const counter = { calls: 0 };
    vi.spyOn(proto, method).mockImplementation(function (this: FileHandle, ...args: unknown[]) {
      counter.calls++;
      return real.apply(this, args);
    } as never);
    return counter;
  }

  it('assembles blocks delivered out of order, ignores duplicates, and checks the whole image', async () => {
    const assembler = await openAssembler();
    for (const i of [10, 3, 0, 7, 1, 2, 9, 4, 8, 6, 5]) expect(await assembler.accept(i, block(i))).toBe(true);
    expect(await assembler.accept(3, block(3))).toBe(false);
    await assembler.finish();
    await assembler.close();
    expect(await readFile(slot())).toEqual(image);
  });

  it('syncs slot and bitmap once for a burst of blocks within the interval, not once a block', async () => {
    const datasyncs = await countCalls('datasync');
    const assembler = await openAssembler();
    for (let i = 0; i < blocks; i++) await assembler.accept(i, block(i));
    expect(datasyncs.calls).toBe(0); // the paced sync is due, the clock has not moved
    await assembler.finish(); // the image must be on storage before it is declared good
    expect(datasyncs.calls).toBe(2);
    await assembler.close();
    expect(datasyncs.calls).toBe(2); // nothing written since
  });

  it('writes blocks accepted together as runs: one pwritev a run of consecutive blocks, not one a block', async () => {
    const assembler = await openAssembler();
    const writevs = await countCalls('writev');
    await Promise.all([0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 4].map((i) => assembler.accept(i, block(i))));
    // Block 0 goes at once; the ten accepted meanwhile make one run (4 arrived last, sorted in);
    // each batch adds its bitmap write.
    expect(writevs.calls).toBe(2 + 2);
    await assembler.finish();
    await assembler.close();
    expect(await readFile(slot())).toEqual(image);
  });

  it('fails every block of a batch whose write fails (a disk error), marks none of them, and goes on after', async () => {
    const assembler = await openAssembler();
    const proto = await fileHandlePrototype();
    vi.spyOn(proto, 'writev').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
    const results = await Promise.allSettled([0, 1].map((i) => assembler.accept(i, block(i))));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    expect(assembler.verified.has(0)).toBe(false);
    for (const i of [0, ...range(2, blocks)]) await assembler.accept(i, block(i));
    await assembler.finish();
    await assembler.close();
    expect(await markedOnStorage()).toEqual(range(0, blocks));
  });

  it('refuses the chunk table up front', async () => {
    const bad = flipped(table, 0);
    expect(await codeOf(() => DownloadAssembler.open({ path: slot(), manifest, chunkTable: bad }))).toBe('ChunkTableMismatch');
  });

  it('writes nothing for a refused block', async () => {
    const assembler = await openAssembler();
    expect(await codeOf(() => assembler.accept(0, flipped(block(0), 0)))).toBe('ChunkDigestMismatch');
    expect(assembler.verified.verifiedCount).toBe(0);
    await assembler.close();
    expect((await readFile(slot())).subarray(0, CHUNK)).toEqual(Buffer.alloc(CHUNK));
  });

  it.each([
    ['start', 0],
    ['middle', Math.floor(image.length / 2)],
    ['end', image.length - 1],
  ])('reports ImageDigestMismatch when storage corrupts a byte at the %s', async (_where, at) => {
    const assembler = await openAssembler();
    for (let i = 0; i < blocks; i++) await assembler.accept(i, block(i));
    await corrupt(slot(), at);
    expect(await codeOf(() => assembler.finish())).toBe('ImageDigestMismatch');
    await assembler.close();
  });

  it('refuses to finish with blocks missing', async () => {
    const assembler = await openAssembler();
    await assembler.accept(0, block(0));
    expect(await codeOf(() => assembler.finish())).toBe('Conflict');
    await assembler.close();
  });

  it('pre-sizes the slot to the image size', async () => {
    await writeFile(slot(), Buffer.alloc(image.length * 2));
    const assembler = await openAssembler();
    await assembler.close();
    expect((await readFile(slot())).length).toBe(image.length);
  });

  describe('after a crash', () => {
    it('a killed process (never closed, never synced) resumes with every stored block: none is fetched again', async () => {
      const crashed = await openUnclosed();
      for (const i of range(0, 6)) await crashed.accept(i, block(i));

      const resumed = await openUnclosed(); // a new process on the same files
      expect(resumed.missingRuns()).toEqual([[6, blocks - 6]]);
      for (const i of range(6, blocks)) await resumed.accept(i, block(i));
      await resumed.finish();
    });

    it('a bit whose block never reached the slot is not trusted: that block alone is fetched again', async () => {
      const first = await openAssembler();
      for (const i of range(0, 6)) await first.accept(i, block(i));
      await first.close();
      // A power cut after the bitmap's page reached storage and before the slot's did: block 2
      // is still what the slot held before (zeros), block 4 half written.
      await writeAt(slot(), Buffer.alloc(CHUNK), 2 * CHUNK);
      await writeAt(slot(), Buffer.alloc(CHUNK / 2), 4 * CHUNK + CHUNK / 2);

      const resumed = await openAssembler();
      expect(resumed.missingRuns()).toEqual([[2, 1], [4, 1], [6, blocks - 6]]);
      for (const i of [2, 4, ...range(6, blocks)]) await resumed.accept(i, block(i));
      await resumed.finish();
      await resumed.close();
      expect(await readFile(slot())).toEqual(image);
      expect(await markedOnStorage()).toEqual(range(0, blocks)); // cleared bits were written back, then set again
    });

    it('a slot file that is gone voids its bitmap', async () => {
      const first = await openAssembler();
      for (const i of range(0, 4)) await first.accept(i, block(i));
      await first.close();
      await rm(slot());
      const resumed = await openAssembler();
      expect(resumed.verified.verifiedCount).toBe(0);
      await resumed.close();
    });

    it('a bitmap file that is gone, or of another image, costs a refetch and nothing else', async () => {
      const first = await openAssembler();
      for (const i of range(0, 4)) await first.accept(i, block(i));
      await first.close();
      await rm(bitmapPathOf(slot()));
      const withoutBitmap = await openAssembler();
      expect(withoutBitmap.verified.verifiedCount).toBe(0);
      await withoutBitmap.close();

      const other = await BitmapFile.open(bitmapPathOf(slot()), blocks, sha256Hex(Buffer.from('another table')));
      await other.mark(range(0, blocks));
      await other.close();
      const resumed = await openAssembler();
      expect(resumed.verified.verifiedCount).toBe(0);
      await resumed.close();
    });
  });

  async function markedOnStorage(): Promise<number[]> {
    const file = await BitmapFile.open(bitmapPathOf(slot()), blocks, manifest.chunkTableSha256);
    await file.close();
    return range(0, blocks).filter((i) => file.bitmap.has(i));
  }
});

async function writeAt(path: string, data: Buffer, position: number): Promise<void> {
  const handle = await open(path, 'r+');
  await handle.write(data, 0, data.length, position);
  await handle.close();
}

async function corrupt(path: string, at: number): Promise<void> {
  await writeAt(path, Buffer.from([(image[at] ?? 0) ^ 0x80]), at);
}
