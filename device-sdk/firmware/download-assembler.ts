/**
 * Writes verified blocks into a pre-sized image file at their offsets, in any order, and persists
 * which blocks are done. A block's bit is set only after its bytes are synced, so after a restart
 * at most the blocks that were in flight are fetched again, and never is an unsynced block trusted.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { BatonError } from '../protocol/errors.js';
import { BlockBitmap } from './bitmap.js';
import { MAX_BLOCKS_PER_REQUEST, type BlockRun } from './stream-request.js';
import { expectedBlock, verifyBlock, verifyChunkTable, verifyImageDigest } from './block-verifier.js';
import { blockCount, type FirmwareManifest } from './manifest.js';

export interface AssemblerOptions {
  /** The download slot; created and sized to `manifest.size` if missing. */
  path: string;
  manifest: FirmwareManifest;
  /** As received on `…/chunk-table`; verified against the manifest before use. */
  chunkTable: Uint8Array;
  /** The persisted bitmap when resuming (see `verifiedBlocksOf` in device-state). */
  verified?: BlockBitmap;
  /** Persists progress, e.g. `state.save(withProgress(state, verified))`. Calls are serialised. */
  persist(verified: BlockBitmap): Promise<void>;
}

async function openSlot(path: string): Promise<{ handle: FileHandle; created: boolean }> {
  try {
    return { handle: await open(path, 'r+'), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return { handle: await open(path, 'w+', 0o600), created: true };
  }
}

export class DownloadAssembler {
  private persisting: Promise<void> = Promise.resolve();

  private constructor(
    private readonly handle: FileHandle,
    private readonly options: AssemblerOptions,
    readonly verified: BlockBitmap,
  ) {}

  static async open(options: AssemblerOptions): Promise<DownloadAssembler> {
    const { manifest } = options;
    verifyChunkTable(options.chunkTable, manifest);
    const count = blockCount(manifest.size, manifest.chunkSize);
    if (options.verified && options.verified.blockCount !== count) {
      throw new BatonError('Conflict', 'The persisted bitmap belongs to another image.');
    }
    const { handle, created } = await openSlot(options.path);
    await handle.truncate(manifest.size);
    // A fresh slot holds none of the blocks an old bitmap claims.
    const verified = !created && options.verified ? options.verified : new BlockBitmap(count);
    return new DownloadAssembler(handle, options, verified);
  }

  /** Verifies and stores block `index`; `false` if it was already stored (a duplicate delivery). */
  async accept(index: number, data: Uint8Array): Promise<boolean> {
    const { manifest, chunkTable } = this.options;
    verifyBlock(manifest, chunkTable, index, data);
    if (this.verified.has(index)) return false;
    const { offset } = expectedBlock(manifest, index);
    await this.writeAll(data, offset);
    await this.handle.datasync();
    this.verified.set(index);
    await this.persistProgress();
    return true;
  }

  /** The next runs to request, at most `maxBlocks` blocks in all. */
  missingRuns(maxBlocks = MAX_BLOCKS_PER_REQUEST): BlockRun[] {
    return this.verified.missingRuns(maxBlocks);
  }

  isComplete(): boolean {
    return this.verified.isComplete();
  }

  /** Re-reads the image from storage and checks the whole-image SHA-256 (catches storage corruption too). */
  async finish(): Promise<void> {
    if (!this.isComplete()) {
      throw new BatonError('Conflict', `${this.verified.blockCount - this.verified.verifiedCount} blocks are missing.`);
    }
    const { manifest } = this.options;
    const hash = createHash('sha256');
    const buffer = Buffer.alloc(manifest.chunkSize);
    let size = 0;
    for (;;) {
      const { bytesRead } = await this.handle.read(buffer, 0, buffer.length, size);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    verifyImageDigest(manifest, size, hash.digest('hex'));
  }

  async close(): Promise<void> {
    await this.persisting.catch(() => undefined);
    await this.handle.close();
  }

  private async writeAll(data: Uint8Array, offset: number): Promise<void> {
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await this.handle.write(data, written, data.length - written, offset + written);
      written += bytesWritten;
    }
  }

  /** Serialised so the state file only ever moves forward, even with blocks arriving concurrently. */
  private persistProgress(): Promise<void> {
    const next = this.persisting.then(() => this.options.persist(this.verified));
    this.persisting = next.catch(() => undefined);
    return next;
  }
}
