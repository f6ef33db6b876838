/**
 * Writes verified blocks into a pre-sized image slot at their offsets, in any order, and marks
 * each in a bitmap file beside the slot (`BitmapFile`) once its bytes are written there. Blocks
 * accepted while a write is under way are written together next: one `pwritev` a run of
 * consecutive blocks and one bitmap write a batch, since each trip to the thread pool costs more
 * than copying a block.
 *
 * Crash safety. A block's bit is written only after its bytes were written to the slot, and the
 * two files are synced together at most once per `sync.intervalMs` (`PacedSync`) and on close,
 * slot first. Bits are still not trusted on their own: `open` re-verifies every marked block
 * against the chunk table and clears the bits of those that fail. That was chosen over holding
 * bits back until the slot's sync completed (so a durable bit always vouches for durable bytes)
 * because:
 * - a process crash (killed, out of memory, watchdog), the common case, then costs nothing but
 *   the blocks in flight: each bit is in the page cache right after its block, and the page cache
 *   outlives the process; held-back bits would lose up to an interval of blocks;
 * - it does not rely on storage keeping the order of syncs (not every flash layer or file system
 *   does), and it also catches a slot damaged or replaced while the device was off;
 * - it costs one read of the already verified part of the slot per resume (the read the final
 *   whole-image check makes anyway) and nothing while downloading.
 * So a power cut costs at most the blocks written since the last sync, and never is a block
 * trusted whose bytes did not reach the slot.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { systemClock } from '../clock.js';
import { BatonError, isBatonError } from '../protocol/errors.js';
import type { BlockBitmap } from './bitmap.js';
import { BitmapFile } from './bitmap-file.js';
import { expectedBlock, verifyBlock, verifyChunkTable, verifyImageDigest } from './block-verifier.js';
import { blockCount, type FirmwareManifest } from './manifest.js';
import { PacedSync, type SyncPacing } from './paced-sync.js';
import { openPositioned, writeAt } from './positioned-file.js';
import { MAX_BLOCKS_PER_REQUEST, type BlockRun } from './stream-request.js';

export interface AssemblerOptions {
  /** The download slot; created and sized to `manifest.size` if missing. Its bitmap is `bitmapPathOf(path)`. */
  path: string;
  manifest: FirmwareManifest;
  /** As received on `…/chunk-table`; verified against the manifest before use. */
  chunkTable: Uint8Array;
  /** How often at most slot and bitmap are synced (default: once a second, real timers). */
  sync?: SyncPacing;
}

export const defaultSyncIntervalMs = 1000;

/** Read size of the final whole-image check: large reads, not one round trip to the thread pool a block. */
const READ_BACK_BYTES = 256 * 1024;

/** The bitmap file of the slot at `slotPath`. */
export const bitmapPathOf = (slotPath: string): string => `${slotPath}.bitmap`;

interface PendingBlock {
  index: number;
  data: Uint8Array;
  stored(err?: unknown): void;
}

export class DownloadAssembler {
  /** Verified blocks waiting for the next batch write. */
  private pending: PendingBlock[] = [];
  /** The batch writes under way; undefined when idle. */
  private writing: Promise<void> | undefined;
  private readonly sync: PacedSync;

  private constructor(
    private readonly slot: FileHandle,
    private readonly bitmapFile: BitmapFile,
    private readonly options: AssemblerOptions,
  ) {
    const pacing = options.sync ?? { intervalMs: defaultSyncIntervalMs, clock: systemClock, now: () => performance.now() };
    this.sync = new PacedSync(async () => {
      await this.slot.datasync();
      await this.bitmapFile.sync();
    }, pacing);
  }

  static async open(options: AssemblerOptions): Promise<DownloadAssembler> {
    const { manifest, path } = options;
    verifyChunkTable(options.chunkTable, manifest);
    const handle = await openPositioned(path);
    let bitmapFile: BitmapFile | undefined;
    try {
      await handle.truncate(manifest.size);
      bitmapFile = await BitmapFile.open(bitmapPathOf(path), blockCount(manifest.size, manifest.chunkSize), manifest.chunkTableSha256);
      const assembler = new DownloadAssembler(handle, bitmapFile, options);
      await assembler.recheckMarked();
      return assembler;
    } catch (err) {
      await bitmapFile?.close();
      await handle.close();
      throw err;
    }
  }

  /** Verified blocks whose bytes were written to the slot. */
  get verified(): BlockBitmap {
    return this.bitmapFile.bitmap;
  }

  /** Verifies and stores block `index`; `false` if it was already stored (a duplicate delivery). */
  async accept(index: number, data: Uint8Array): Promise<boolean> {
    const { manifest, chunkTable } = this.options;
    verifyBlock(manifest, chunkTable, index, data);
    if (this.verified.has(index)) return false;
    await new Promise<void>((resolve, reject) => {
      this.pending.push({ index, data, stored: (err) => (err === undefined ? resolve() : reject(err)) });
      this.writing ??= this.writePending();
    });
    return true;
  }

  /** The next runs to request, at most `maxBlocks` blocks in all. */
  missingRuns(maxBlocks = MAX_BLOCKS_PER_REQUEST): BlockRun[] {
    return this.verified.missingRuns(maxBlocks);
  }

  isComplete(): boolean {
    return this.verified.isComplete();
  }

  /** Syncs the image, re-reads it from storage and checks the whole-image SHA-256 (catches storage corruption too). */
  async finish(): Promise<void> {
    if (!this.isComplete()) {
      throw new BatonError('Conflict', `${this.verified.blockCount - this.verified.verifiedCount} blocks are missing.`);
    }
    await this.sync.flush();
    const { manifest } = this.options;
    const hash = createHash('sha256');
    const buffer = Buffer.alloc(Math.max(manifest.chunkSize, READ_BACK_BYTES));
    let size = 0;
    for (;;) {
      const { bytesRead } = await this.slot.read(buffer, 0, buffer.length, size);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    verifyImageDigest(manifest, size, hash.digest('hex'));
  }

  /** Lets the blocks being stored land, syncs everything once more, and closes both files. */
  async close(): Promise<void> {
    await this.writing;
    try {
      await this.sync.flush();
    } finally {
      await this.bitmapFile.close();
      await this.slot.close();
    }
  }

  /**
   * Writes batches until none is pending: the blocks' bytes first, then their bits, so a written
   * bit never precedes its block into the page cache.
   */
  private async writePending(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.sort((a, b) => a.index - b.index);
      this.pending = [];
      try {
        for (const run of consecutiveRuns(batch)) {
          await writeAt(this.slot, run.map((b) => b.data), expectedBlock(this.options.manifest, run[0]!.index).offset);
        }
        await this.bitmapFile.mark(batch.map((b) => b.index));
        this.sync.request();
        for (const b of batch) b.stored();
      } catch (err) {
        for (const b of batch) b.stored(err);
      }
    }
    this.writing = undefined;
  }

  /** On open: a marked block whose bytes on storage are not the chunk table's is fetched again. */
  private async recheckMarked(): Promise<void> {
    const { manifest, chunkTable } = this.options;
    const buffer = Buffer.alloc(manifest.chunkSize);
    for (let i = 0; i < this.verified.blockCount; i++) {
      if (!this.verified.has(i)) continue;
      const { offset, length } = expectedBlock(manifest, i);
      const { bytesRead } = await this.slot.read(buffer, 0, length, offset);
      try {
        verifyBlock(manifest, chunkTable, i, buffer.subarray(0, bytesRead));
      } catch (err) {
        if (!isBatonError(err)) throw err;
        await this.bitmapFile.unmark([i]);
      }
    }
  }
}

/** Splits blocks sorted by index into runs of consecutive indices. */
function consecutiveRuns(sorted: readonly PendingBlock[]): PendingBlock[][] {
  const runs: PendingBlock[][] = [];
  for (const block of sorted) {
    const run = runs[runs.length - 1];
    if (run && run[run.length - 1]!.index + 1 === block.index) run.push(block);
    else runs.push([block]);
  }
  return runs;
}
