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
  readBlock(index: number): Promise<Buffer>;
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
    const { sha256, chunkSize } = manifest;
    return {
      id: manifest.firmwareId,
      manifest,
      blockCount: blockCount(manifest.size, chunkSize),
      readBlock: async (index) => (await reader(sha256)).readBlock(index, chunkSize),
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
