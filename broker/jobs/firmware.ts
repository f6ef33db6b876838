/**
 * The jobs side of firmware: reading the catalogue (a firmware job targets its firmware's device
 * class and installs its version), and the hooks the firmware feature narrows delivery with.
 *
 * Wiring (service.ts): `firmwareFeature(jobsFirmwareHooks(rollouts))`, so a firmware is `InUse` while a job
 * that is not finished references it, and a device may fetch its blocks only while it has an
 * admitted, unfinished execution of a job for it.
 */
import { parseManifest } from '../../device-sdk/firmware/manifest.js';
import type { FeatureContext } from '../feature.js';
import type { FirmwareHooks } from '../firmware/hooks.js';
import type { FirmwareRepo } from '../firmware/store.js';
import type { Rollouts } from '../rollouts/rollouts.js';
import { createSqliteJobRepo } from '../store/sqlite/jobs.js';
import type { FirmwareTarget } from './model.js';
import type { JobRepo } from './repo.js';

export interface FirmwareCatalog {
  get(id: string): Promise<FirmwareTarget | undefined>;
}

/** The catalogue as jobs see it: id, device class, version, image size and the signed manifest. */
export function firmwareCatalog(repo: Pick<FirmwareRepo, 'get'>): FirmwareCatalog {
  return {
    async get(id) {
      const row = await repo.get(id);
      if (!row) return undefined;
      // Our own stored manifest, verified at upload: only its fields are read here.
      const payload = Buffer.from(row.manifest.split('.')[1] ?? '', 'base64url').toString('utf8');
      const manifest = parseManifest(JSON.parse(payload));
      return { id: row.id, deviceClass: row.deviceClass, version: row.version, size: manifest.size, manifest: row.manifest };
    },
  };
}

export function firmwareHooksFrom(repo: Pick<JobRepo, 'firmwareInUse' | 'hasActiveFirmwareExecution' | 'addBytesDelivered'>): FirmwareHooks {
  return {
    firmwareInUse: (firmwareId) => repo.firmwareInUse(firmwareId),
    mayFetch: (deviceId, firmwareId) => repo.hasActiveFirmwareExecution(deviceId, firmwareId),
    // Group-committed with everything else in the same turn; a lost count is not worth failing a block.
    delivered: (deviceId, firmwareId, bytes) => void repo.addBytesDelivered(deviceId, firmwareId, bytes).catch(() => undefined),
  };
}

/**
 * For `firmwareFeature(jobsFirmwareHooks(rollouts))`: the hooks over the same SQLite tables the
 * jobs feature writes, and the staged rollouts' (broker/rollouts/delivery.ts): delivered bytes
 * feed the scheduler, blocks wait for the device's maintenance window, and each device is paced
 * to its reported link.
 */
export const jobsFirmwareHooks = (rollouts: Pick<Rollouts, 'delivered' | 'mayStream' | 'deviceBytesPerSec'>) => (ctx: FeatureContext): FirmwareHooks => {
  const hooks = firmwareHooksFrom(createSqliteJobRepo(ctx.store.db, ctx.store.writer));
  return {
    ...hooks,
    delivered(deviceId, firmwareId, bytes) {
      hooks.delivered?.(deviceId, firmwareId, bytes);
      rollouts.delivered(deviceId, firmwareId, bytes);
    },
    mayStream: (deviceId, firmwareId) => rollouts.mayStream(deviceId, firmwareId),
    deviceBytesPerSec: (deviceId) => rollouts.deviceBytesPerSec(deviceId),
  };
};
