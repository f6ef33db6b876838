import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseTopic, topics } from '../../device-sdk/protocol/topics.js';
import { InboundRouter } from '../mqtt/inbound.js';
import type { Store } from '../store/types.js';
import type { Delivery } from './delivery.js';
import { defaultFirmwareHooks, type FirmwareHooks } from './hooks.js';
import type { ServedFirmware, ServedImages } from './served.js';
import { registerStreamServer } from './stream-server.js';

const FIRMWARE = 'sensor-1.0.0-0123456789abcdef';
const firmware = { id: FIRMWARE, manifest: { deviceClass: 'sensor', chunkSize: 256, size: 2560 }, blockCount: 10 } as unknown as ServedFirmware;

/** The stream server over fakes: a device `dev-1` of class `sensor`, the firmware above, and the given hooks. */
function setup(hooks: Partial<FirmwareHooks> = {}) {
  const router = new InboundRouter();
  const replies: Array<{ topic: string; body: unknown }> = [];
  const queued: Array<{ firmwareId: string; blocks: readonly number[] | 'chunk-table' }> = [];
  const store = {
    devices: { get: async (id: string) => (id === 'dev-1' ? { id, deviceClass: 'sensor', site: null } : undefined) },
    sites: { get: async () => undefined },
  } as unknown as Store;
  const served = { get: async () => firmware } as unknown as ServedImages;
  const delivery = { enqueue: (_d: string, _s: unknown, f: ServedFirmware, blocks: readonly number[] | 'chunk-table') => queued.push({ firmwareId: f.id, blocks }) } as unknown as Delivery;
  registerStreamServer({
    router, store, served, delivery,
    hooks: { ...defaultFirmwareHooks, ...hooks },
    publisher: { publish: async (topic, body) => void replies.push({ topic, body }), packetWriter: () => undefined },
    registry: new Registry(),
    log: pino({ level: 'silent' }),
  });
  const request = (topic: string, body: object) =>
    router.get(parseTopic(topic)!.kind)!({ principal: { kind: 'device', deviceId: 'dev-1' }, topic: parseTopic(topic)!, payload: Buffer.from(JSON.stringify(body)), qos: 1 });
  return { request, replies, queued };
}

describe('stream server entitlement hooks', () => {
  it('queues blocks when the hooks allow, and answers Forbidden when mayFetch refuses', async () => {
    const allowed = setup();
    expect(await allowed.request(topics.streamGet('dev-1', FIRMWARE), { blocks: [[0, 3]] })).toBe('consume');
    await allowed.request(topics.chunkTableGet('dev-1', FIRMWARE), {});
    expect(allowed.queued).toEqual([{ firmwareId: FIRMWARE, blocks: [0, 1, 2] }, { firmwareId: FIRMWARE, blocks: 'chunk-table' }]);

    const refused = setup({ mayFetch: async () => false });
    await refused.request(topics.streamGet('dev-1', FIRMWARE), { clientToken: 'c', blocks: [[0, 1]] });
    await refused.request(topics.chunkTableGet('dev-1', FIRMWARE), {});
    expect(refused.queued).toEqual([]);
    expect(refused.replies.map((r) => [r.topic, (r.body as { code: string }).code])).toEqual([
      [topics.streamRejected('dev-1', FIRMWARE), 'Forbidden'],
      [topics.streamRejected('dev-1', FIRMWARE), 'Forbidden'],
    ]);
  });
});
