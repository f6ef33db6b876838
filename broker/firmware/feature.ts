/**
 * Signed firmware as a Baton feature: the catalogue and keys (REST), and block delivery over MQTT
 * with pacing, wired from the shared parts of the service (see broker/feature.ts).
 *
 * `firmwareFeature()` is the entry in service.ts; a later jobs feature narrows it by passing its
 * hooks: `firmwareFeature((ctx) => ({ firmwareInUse, mayFetch }))`.
 */
import { Counter } from 'prom-client';
import type { PresenceEvent } from '../../device-sdk/protocol/index.js';
import { createArtifactStore } from '../../firmware-updates/artifact-store.js';
import { createPacing, PACING_SWEEP_INTERVAL_MS } from '../../firmware-updates/pacing.js';
import type { FeatureFactory } from '../feature.js';
import { createSqliteFirmwareKeyRepo, createSqliteFirmwareRepo } from '../store/sqlite/firmware.js';
import { createDelivery } from './delivery.js';
import { defaultFirmwareHooks, type FirmwareHooksFactory } from './hooks.js';
import { createKeyService } from './keys.js';
import { firmwareRoutes } from './routes.js';
import { createServedImages } from './served.js';
import { createFirmwareService } from './service.js';
import { registerStreamServer } from './stream-server.js';

export function firmwareFeature(hooksFactory?: FirmwareHooksFactory): FeatureFactory {
  return async (ctx) => {
    const { config, store, router, publisher, presence, metrics, clock } = ctx;
    const log = ctx.log.child({ component: 'firmware' });
    const hooks = { ...defaultFirmwareHooks, ...hooksFactory?.(ctx) };
    const repo = createSqliteFirmwareRepo(store.db);
    const keys = await createKeyService({ repo: createSqliteFirmwareKeyRepo(store.db), firmware: repo, serverKey: ctx.serverKey, envelopeTtlMs: config.jobsConfigTtlS * 1000, clock });
    const artifacts = createArtifactStore({ dataDir: config.dataDir, maxBytes: config.firmwareMaxBytes });
    const served = createServedImages({ repo, artifacts });
    const pacing = createPacing({
      deviceBytesPerSec: config.firmwareDeviceBytesPerSec,
      globalBytesPerSec: config.egressBytesPerSec,
      maxDepthBytes: config.firmwareBurstBytes,
      clock: { now: clock },
      ...(hooks.deviceBytesPerSec ? { deviceRate: (id: string) => hooks.deviceBytesPerSec?.(id) } : {}),
    });
    const bytesSent = new Counter({ name: 'baton_firmware_stream_bytes_total', help: 'Firmware block and chunk-table bytes sent to devices.', registers: [metrics.registry] });
    const onSent = (deviceId: string, firmwareId: string, bytes: number) => {
      bytesSent.inc(bytes);
      try {
        hooks.delivered?.(deviceId, firmwareId, bytes);
      } catch (err) {
        log.warn({ err, deviceId, firmwareId }, 'delivered hook failed');
      }
    };
    const mayStream = hooks.mayStream && ((deviceId: string, firmwareId: string) => hooks.mayStream?.(deviceId, firmwareId) !== false);
    const delivery = createDelivery({ publisher, pacing, maxOutstanding: config.firmwareMaxOutstandingBlocks, log, onSent, ...(mayStream ? { mayStream } : {}) });
    const firmware = createFirmwareService({ repo, keys, artifacts, served, hooks, clock, onDeleted: (id) => delivery.dropFirmware(id) });
    registerStreamServer({ router, publisher, store, served, delivery, hooks, registry: metrics.registry, log });

    const onPresence = (e: PresenceEvent) => {
      if (e.event === 'disconnected') delivery.dropDevice(e.deviceId);
    };
    presence.on('event', onPresence);
    let sweeper: NodeJS.Timeout | undefined;

    return {
      name: 'firmware',
      routes: firmwareRoutes({ firmware, keys, maxBytes: config.firmwareMaxBytes }),
      start() {
        sweeper = setInterval(() => pacing.sweep(), PACING_SWEEP_INTERVAL_MS).unref();
      },
      async close() {
        clearInterval(sweeper);
        presence.off('event', onPresence);
        delivery.close();
        await served.close();
      },
    };
  };
}
