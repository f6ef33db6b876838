import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiContext } from '../context.js';
import { fleetSummarySchema, problemSchema } from '../schemas.js';

export const fleetRoutes: FastifyPluginAsyncZod<ApiContext> = async (app, { store, presence, guard }) => {
  app.get('/fleet/summary', {
    onRequest: guard('read'),
    schema: {
      tags: ['fleet'],
      summary: 'Device counts by status, device class, firmware version and site',
      response: { 200: fleetSummarySchema, 401: problemSchema, 403: problemSchema },
    },
  }, async () => {
    const [total, byDeviceClass, bySite, firmware, neverConnected, pending] = await Promise.all([
      store.devices.count(),
      store.devices.countBy('device_class'),
      store.devices.countBy('site'),
      store.health.firmwareVersions(),
      // A pending device has never connected: it is counted as pending only.
      store.devices.count({ everConnected: false, approvalPending: false }),
      store.devices.count({ approvalPending: true }),
    ]);
    const byStatus: Record<string, number> = { online: 0, stale: 0, offline: 0, 'never-connected': neverConnected, pending };
    for (const id of presence.connectedIds()) byStatus[presence.status(id, true)]! += 1;
    byStatus.offline = total - neverConnected - pending - byStatus.online! - byStatus.stale!;
    const byFirmwareVersion: Record<string, number> = {};
    for (const version of firmware.values()) byFirmwareVersion[version] = (byFirmwareVersion[version] ?? 0) + 1;
    byFirmwareVersion['(unknown)'] = total - firmware.size;
    return { total, byStatus, byDeviceClass, byFirmwareVersion, bySite };
  });
};
