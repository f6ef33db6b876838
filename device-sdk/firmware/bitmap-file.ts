/**
 * The verified-block bitmap on storage, beside the image slot, updated in place: marking blocks
 * is one positioned write of the bytes holding their bits, not a rewrite of a state file. The
 * file is a 40-byte header (magic, then the SHA-256 of the chunk table the bits were verified
 * against), then `BlockBitmap`'s bytes. A file of another image, another format or a torn length
 * is started afresh: bits are only ever trusted for the image they describe.
 *
 * Durability is the caller's: `sync()` when the slot data the bits vouch for is synced too (see
 * download-assembler.ts for why a bit reaching storage before its block is harmless).
 */
import type { FileHandle } from 'node:fs/promises';
import { BlockBitmap } from './bitmap.js';
import { openPositioned, writeAt } from './positioned-file.js';

const MAGIC = Buffer.from('BATONBM1', 'latin1');
const HEADER_BYTES = MAGIC.length + 32;

export class BitmapFile {
  /** Writes are chained so they reach the file in the order the bits changed. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly handle: FileHandle,
    readonly bitmap: BlockBitmap,
  ) {}

  /** Opens the bitmap at `path` for an image of `blockCount` blocks whose chunk table has `chunkTableSha256` (hex). */
  static async open(path: string, blockCount: number, chunkTableSha256: string): Promise<BitmapFile> {
    const header = Buffer.concat([MAGIC, Buffer.from(chunkTableSha256, 'hex')]);
    const length = HEADER_BYTES + BlockBitmap.byteLength(blockCount);
    const handle = await openPositioned(path);
    try {
      const stored = Buffer.alloc(length);
      const { bytesRead } = await handle.read(stored, 0, length, 0);
      const { size } = await handle.stat();
      if (size === length && bytesRead === length && stored.subarray(0, HEADER_BYTES).equals(header)) {
        return new BitmapFile(handle, new BlockBitmap(blockCount, stored.subarray(HEADER_BYTES)));
      }
      // Zero bits first, header last: a torn start-over leaves a header that does not match.
      await handle.truncate(0);
      await handle.truncate(length);
      await writeAt(handle, [header], 0);
      return new BitmapFile(handle, new BlockBitmap(blockCount));
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Sets the blocks' bits and writes the bytes holding them; resolves once the write reached the file (not storage). */
  mark(indices: readonly number[]): Promise<void> {
    for (const i of indices) this.bitmap.set(i);
    return this.write(indices);
  }

  unmark(indices: readonly number[]): Promise<void> {
    for (const i of indices) this.bitmap.clear(i);
    return this.write(indices);
  }

  /** Makes every write so far durable. */
  async sync(): Promise<void> {
    await this.writing.catch(() => undefined);
    await this.handle.datasync();
  }

  async close(): Promise<void> {
    await this.writing.catch(() => undefined);
    await this.handle.close();
  }

  /** One write of the byte range holding `indices`' bits, read when its turn comes so it never carries older bits. */
  private write(indices: readonly number[]): Promise<void> {
    if (indices.length === 0) return this.writing;
    const from = indices.reduce((a, b) => Math.min(a, b)) >> 3;
    const to = indices.reduce((a, b) => Math.max(a, b)) >> 3;
    const next = this.writing.catch(() => undefined).then(() => writeAt(this.handle, [this.bitmap.bytes(from, to)], HEADER_BYTES + from));
    this.writing = next;
    return next;
  }
}
