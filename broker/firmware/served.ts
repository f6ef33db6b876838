/**
 * Firmware as the stream server sees it: the manifest, the block count and open image readers,
 * cached because every block request needs them. Images are immutable and content-addressed, so
 * a cache entry is only ever dropped (on delete), never updated.
 */
import { BatonError } from '../../device-sdk/protocol/errors.js';
import { blockCount, type FirmwareManifest } from '../../device-sdk/firmware/manifest.js';
import type { ArtifactReader, ArtifactStore } from '../../firmware-updates/artifact-store.js';
import type { FirmwareRepo } from './store.js';
import { manifestOf } from './view.js';

export interface ServedFirmware {
  id: string;
  manifest: FirmwareManifest;
  blockCount: number;
  /** The length of block `index`: the chunk size, less for the last block. */
  blockBytes(index: number): number;
  /**
   * Blocks `first`..`first + count - 1` into `target` at `offset`. They lie end to end in the
   * image, so a run costs one positioned read, however many blocks it has.
   */
  readBlocks(first: number, count: number, target: Buffer, offset: number): Promise<void>;
  chunkTable(): Promise<Buffer>;
}

export function createServedImages({ repo, artifacts }: { repo: FirmwareRepo; artifacts: ArtifactStore }) {
  const firmware = new Map<string, ServedFirmware>();
  const readers = new Map<string, Promise<ArtifactReader>>();

  function reader(sha256: string): Promise<ArtifactReader> {
    let r = readers.get(sha256);
    if (!r) {
      r = artifacts.openReader(sha256);
      readers.set(sha256, r);
      r.catch(() => readers.delete(sha256));
    }
    return r;
  }

  function serve(manifest: FirmwareManifest): ServedFirmware {
    const { sha256, chunkSize, size } = manifest;
    const count = blockCount(size, chunkSize);
    const endOf = (index: number) => Math.min((index + 1) * chunkSize, size);
    return {
      id: manifest.firmwareId,
      manifest,
      blockCount: count,
      blockBytes: (index) => endOf(index) - index * chunkSize,
      async readBlocks(first, n, target, offset) {
        if (!(Number.isInteger(first) && Number.isInteger(n) && first >= 0 && n >= 1 && first + n <= count)) {
          throw new BatonError('InvalidRequest', `Blocks ${first}+${n} lie outside the ${count} blocks of ${manifest.firmwareId}.`);
        }
        const position = first * chunkSize;
        await (await reader(sha256)).readInto(target, offset, position, endOf(first + n - 1) - position);
      },
      chunkTable: () => artifacts.chunkTable(sha256, chunkSize),
    };
  }

  return {
    /** The firmware to stream; `NotFound` if there is no such firmware. */
    async get(id: string): Promise<ServedFirmware> {
      const cached = firmware.get(id);
      if (cached) return cached;
      const row = await repo.get(id);
      if (!row) throw new BatonError('NotFound', `No firmware ${id}.`);
      const served = serve(manifestOf(row));
      firmware.set(id, served);
      return served;
    },
    /** After a delete; closes the image's reader too when no firmware uses the image any more. */
    async forget(id: string, sha256: string, imageGone: boolean): Promise<void> {
      firmware.delete(id);
      if (!imageGone) return;
      const r = readers.get(sha256);
      readers.delete(sha256);
      await r?.then((open) => open.close()).catch(() => undefined);
    },
    async close(): Promise<void> {
      firmware.clear();
      const open = [...readers.values()];
      readers.clear();
      await Promise.all(open.map((r) => r.then((o) => o.close()).catch(() => undefined)));
    },
  };
}

export type ServedImages = ReturnType<typeof createServedImages>;
