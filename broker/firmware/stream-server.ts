/**
 * The MQTT edge of block delivery (AWS IoT MQTT-based file delivery, in shape):
 *
 *   devices/{id}/streams/{firmwareId}/get              { clientToken?, blocks: [[first, count], …] }
 *   devices/{id}/streams/{firmwareId}/data/{index}     raw block bytes, QoS 0
 *   devices/{id}/streams/{firmwareId}/chunk-table/get  empty, or { clientToken }
 *   devices/{id}/streams/{firmwareId}/chunk-table      raw chunk table, QoS 0
 *   devices/{id}/streams/{firmwareId}/rejected         { code, message, clientToken? }, QoS 1
 *
 * Blocks go at QoS 0: the device re-requests what it misses (it verifies every block anyway), and
 * the broker holds no QoS 1 inflight state per block. The ACL has already checked that `{id}` is
 * the publishing device's own. docs/protocol/firmware.md is the reference for device authors.
 */
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { requestedBlocks } from '../../device-sdk/firmware/stream-request.js';
import { BatonError, isBatonError } from '../../device-sdk/protocol/errors.js';
import { parseJsonObject, type JsonObject } from '../../device-sdk/protocol/json.js';
import { topics } from '../../device-sdk/protocol/topics.js';
import type { InboundHandler, InboundRouter } from '../mqtt/inbound.js';
import type { Publisher } from '../mqtt/publisher.js';
import type { Store } from '../store/types.js';
import type { Delivery } from './delivery.js';
import type { FirmwareHooks } from './hooks.js';
import type { ServedFirmware, ServedImages } from './served.js';

/** A block request is a few hundred bytes; anything this large is refused before parsing. */
export const MAX_REQUEST_BYTES = 4096;

export interface StreamServerDeps {
  router: InboundRouter;
  publisher: Publisher;
  store: Store;
  served: ServedImages;
  delivery: Delivery;
  hooks: FirmwareHooks;
  registry: Registry;
  log: Logger;
}

type Access = { firmware: ServedFirmware; site: { id: string; uplinkBytesPerSec: number } | undefined };

/** An empty payload is a request with nothing but defaults (the chunk table needs no body). */
const parseRequest = (payload: Buffer): JsonObject => (payload.length === 0 ? {} : parseJsonObject(payload, MAX_REQUEST_BYTES));

/** The clientToken to echo, if the payload has a plausible one, even when the rest is invalid. */
function clientTokenOf(payload: Buffer): string | undefined {
  try {
    const token = parseRequest(payload).clientToken;
    return typeof token === 'string' && token.length <= 64 ? token : undefined;
  } catch {
    return undefined;
  }
}

export function registerStreamServer(deps: StreamServerDeps): void {
  const { store, served, delivery, hooks, publisher, log } = deps;
  const requests = new Counter({
    name: 'baton_firmware_stream_requests_total',
    help: 'Firmware stream requests from devices, by kind (blocks, chunk-table) and outcome (queued, or the error code).',
    labelNames: ['kind', 'outcome'],
    registers: [deps.registry],
  });

  /** Entitlement: the device's class must be the firmware's, and the hooks (jobs, later) must agree. */
  async function access(deviceId: string, firmwareId: string): Promise<Access> {
    const firmware = await served.get(firmwareId);
    const device = await store.devices.get(deviceId);
    if (!device || device.deviceClass !== firmware.manifest.deviceClass) {
      throw new BatonError('Forbidden', `Firmware ${firmwareId} is for device class ${firmware.manifest.deviceClass}.`);
    }
    if (!(await hooks.mayFetch(deviceId, firmwareId))) throw new BatonError('Forbidden', `Device ${deviceId} may not fetch ${firmwareId} now.`);
    if (hooks.mayStream?.(deviceId, firmwareId) === false) throw new BatonError('RateLimited', `Outside the maintenance window of ${deviceId}: ask again later.`);
    const site = device.site === null ? undefined : await store.sites.get(device.site);
    return { firmware, site: site && { id: site.id, uplinkBytesPerSec: site.uplinkBytesPerSec } };
  }

  const serveBlocks = async (deviceId: string, firmwareId: string, payload: Buffer) => {
    const request = parseRequest(payload);
    const { firmware, site } = await access(deviceId, firmwareId);
    delivery.enqueue(deviceId, site, firmware, requestedBlocks(request, firmware.blockCount));
  };

  const serveChunkTable = async (deviceId: string, firmwareId: string, payload: Buffer) => {
    parseRequest(payload);
    const { firmware, site } = await access(deviceId, firmwareId);
    delivery.enqueue(deviceId, site, firmware, 'chunk-table');
  };

  const handler = (kind: string, serve: typeof serveBlocks): InboundHandler =>
    async function streamRequest({ principal, topic, payload }) {
      if (principal.kind !== 'device') return 'consume';
      const { deviceId } = principal;
      const firmwareId = topic.params.firmwareId!;
      try {
        await serve(deviceId, firmwareId, payload);
        requests.inc({ kind, outcome: 'queued' });
      } catch (err) {
        if (!isBatonError(err)) throw err;
        requests.inc({ kind, outcome: err.code });
        const clientToken = clientTokenOf(payload);
        const body = { code: err.code, message: err.message, ...(clientToken === undefined ? {} : { clientToken }) };
        await publisher.publish(topics.streamRejected(deviceId, firmwareId), body, 1)
          .catch((e: unknown) => log.warn({ err: e, deviceId, firmwareId }, 'stream rejection not published'));
      }
      return 'consume';
    };

  deps.router.on('stream/get', handler('blocks', serveBlocks));
  deps.router.on('stream/chunk-table/get', handler('chunk-table', serveChunkTable));
}
