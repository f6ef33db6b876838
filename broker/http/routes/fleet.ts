import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiContext } from '../context.js';
import { fleetSummarySchema, problemSchema } from '../schemas.js';

export const fleetRoutes: FastifyPluginAsyncZod<ApiContext> = async (app, { store, presence, guard }) => {
  app.get('/fleet/summary', {
    preHandler: guard('read'),
    schema: {
      tags: ['fleet'],
      summary: 'Device counts by status, device class, firmware version and site',
      response: { 200: fleetSummarySchema, 401: problemSchema, 403: problemSchema },
    },
  }, async () => {
    const [total, byDeviceClass, bySite, firmware, neverConnected] = await Promise.all([
      store.devices.count(),
      store.devices.countBy('device_class'),
      store.devices.countBy('site'),
      store.health.firmwareVersions(),
      store.devices.count({ everConnected: false }),
    ]);
    const byStatus: Record<string, number> = { online: 0, stale: 0, offline: 0, 'never-connected': neverConnected };
    for (const id of presence.connectedIds()) byStatus[presence.status(id, true)]! += 1;
    byStatus.offline = total - neverConnected - byStatus.online! - byStatus.stale!;
    const byFirmwareVersion: Record<string, number> = {};
    for (const version of firmware.values()) byFirmwareVersion[version] = (byFirmwareVersion[version] ?? 0) + 1;
    byFirmwareVersion['(unknown)'] = total - firmware.size;
    return { total, byStatus, byDeviceClass, byFirmwareVersion, bySite };
  });
};
