/**
 * The firmware catalogue: uploads, listings, the signed manifest, deletes. Transport-free; the
 * REST edge (`routes.ts`) and the stream server call it.
 */
import type { Readable } from 'node:stream';
import type { FirmwareManifest } from '../../device-sdk/firmware/manifest.js';
import { BatonError } from '../../device-sdk/protocol/errors.js';
import type { ArtifactStore } from '../../firmware-updates/artifact-store.js';
import type { FirmwareHooks } from './hooks.js';
import type { KeyService } from './keys.js';
import type { ServedImages } from './served.js';
import type { FirmwareRepo, FirmwareRow } from './store.js';
import { uploadFirmware, type UploadParams } from './upload.js';
import { manifestOf, toView, type FirmwareView } from './view.js';

export interface FirmwareServiceDeps {
  repo: FirmwareRepo;
  keys: KeyService;
  artifacts: ArtifactStore;
  served: ServedImages;
  hooks: FirmwareHooks;
  clock: () => number;
  /** After a delete, e.g. to stop streaming it. */
  onDeleted?(id: string): void;
}

const encodeCursor = (id: string) => Buffer.from(id).toString('base64url');
const decodeCursor = (cursor: string) => Buffer.from(cursor, 'base64url').toString();

export function createFirmwareService(deps: FirmwareServiceDeps) {
  const { repo, keys, artifacts, served, hooks, clock } = deps;
  /** Images between arrival and their row's insert, by SHA-256, so a refused upload cannot remove them. */
  const held = new Map<string, number>();
  const view = (row: FirmwareRow) => toView(row, clock(), keys.isTrusted);

  function hold(sha256: string): () => void {
    held.set(sha256, (held.get(sha256) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (held.get(sha256) ?? 1) - 1;
      if (n === 0) held.delete(sha256);
      else held.set(sha256, n);
    };
  }

  /** Removes an image, chunk tables included, when no row names it and no upload holds it; true if it was removed. */
  async function discard(sha256: string): Promise<boolean> {
    if (held.has(sha256) || (await repo.countBySha256(sha256)) > 0) return false;
    await artifacts.remove(sha256);
    return true;
  }

  async function row(id: string): Promise<FirmwareRow> {
    const found = await repo.get(id);
    if (!found) throw new BatonError('NotFound', `No firmware ${id}.`);
    return found;
  }

  return {
    async upload(body: Readable, params: UploadParams, signedManifest?: string): Promise<{ created: boolean; firmware: FirmwareView }> {
      const { created, row: stored } = await uploadFirmware({ repo, keys, artifacts, clock, hold, discard }, body, params, signedManifest);
      return { created, firmware: view(stored) };
    },

    async list(q: { deviceClass?: string | undefined; limit: number; cursor?: string | undefined }) {
      const rows = await repo.list({ deviceClass: q.deviceClass, afterId: q.cursor === undefined ? undefined : decodeCursor(q.cursor), limit: q.limit + 1 });
      const items = rows.slice(0, q.limit).map(view);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > q.limit && last ? encodeCursor(last.id) : null };
    },

    async get(id: string): Promise<FirmwareView & { manifest: FirmwareManifest }> {
      const found = await row(id);
      return { ...view(found), manifest: manifestOf(found) };
    },

    /** The compact JWS exactly as signed. */
    async signedManifest(id: string): Promise<string> {
      return (await row(id)).manifest;
    },

    /** Refused with `InUse` while a job uses it; the image and its chunk tables go when no other firmware shares the image. */
    async delete(id: string): Promise<void> {
      const found = await row(id);
      if (await hooks.firmwareInUse(id)) throw new BatonError('InUse', `Firmware ${id} is used by an active job.`);
      await repo.delete(id);
      deps.onDeleted?.(id);
      await served.forget(id, found.sha256, await discard(found.sha256));
    },
  };
}

export type FirmwareService = ReturnType<typeof createFirmwareService>;
