import { createHash } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { topics } from '../device-sdk/protocol/topics.js';
import { deviceOfClass, entitle, randomImage, uploadImage } from './helpers/firmware.js';
import { nextMessage, startBaton } from './helpers/service.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();

async function setup(overrides: Parameters<typeof startBaton>[0] = {}) {
  const baton = await startBaton(overrides);
  const image = randomImage(200 * 256 + 100);
  const { body: firmware } = await uploadImage(baton, image, { deviceClass: 'sensor', version: '1.0.0', chunkSize: 256 });
  const device = await deviceOfClass(baton, 'dev-1', 'sensor');
  await entitle(baton, firmware.id, ['dev-1']);
  await device.client.subscribeAsync(topics.streams('dev-1', firmware.id), { qos: 1 });
  return { baton, image, firmware, device };
}

/** Publishes a request and resolves with the rejection that answers it. */
async function rejection(client: MqttClient, deviceId: string, firmwareId: string, topic: string, body: unknown) {
  const reply = nextMessage(client, (t) => t === topics.streamRejected(deviceId, firmwareId));
  await client.publishAsync(topic, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });
  return (await reply).json;
}

async function blocks(client: MqttClient, count: number): Promise<Map<number, Buffer>> {
  const got = new Map<number, Buffer>();
  return new Promise((resolve) => {
    const onMessage = (topic: string, payload: Buffer) => {
      const m = /\/data\/(\d+)$/.exec(topic);
      if (!m) return;
      got.set(Number(m[1]), payload);
      if (got.size === count) {
        client.off('message', onMessage);
        resolve(got);
      }
    };
    client.on('message', onMessage);
  });
}

describe('firmware streams over MQTT', () => {
  it('serves the chunk table and each block as raw bytes at QoS 0', async () => {
    const { image, firmware, device } = await setup();
    const table = nextMessage(device.client, (t) => t === topics.chunkTable('dev-1', firmware.id));
    await device.client.publishAsync(topics.chunkTableGet('dev-1', firmware.id), '', { qos: 1 });
    const { payload } = await table;
    expect(payload.length).toBe(201 * 32);
    expect(sha256(payload).toString('hex')).toBe(firmware.chunkTableSha256);

    const received = blocks(device.client, 4);
    await device.client.publishAsync(topics.streamGet('dev-1', firmware.id), JSON.stringify({ blocks: [[0, 2], [199, 2]] }), { qos: 1 });
    const got = await received;
    expect(got.get(0)).toEqual(image.subarray(0, 256));
    expect(got.get(1)).toEqual(image.subarray(256, 512));
    expect(got.get(199)).toEqual(image.subarray(199 * 256, 200 * 256));
    expect(got.get(200)).toEqual(image.subarray(200 * 256)); // the short last block: 100 bytes
  });

  it('rejects with the code and echoes the clientToken', async () => {
    const { baton, firmware, device } = await setup();
    const get = topics.streamGet('dev-1', firmware.id);
    const cases: Array<[unknown, string]> = [
      [{ clientToken: 't1', blocks: [[0, 65]] }, 'InvalidRequest'],
      [{ clientToken: 't2', blocks: [[0, 40], [100, 25]] }, 'InvalidRequest'],
      [{ clientToken: 't3', blocks: [[200, 2]] }, 'InvalidRequest'],
      [{ clientToken: 't4', blocks: [] }, 'InvalidRequest'],
      ['{"clientToken": "t5", "blocks"', 'InvalidJSON'],
    ];
    for (const [body, code] of cases) {
      const reply = await rejection(device.client, 'dev-1', firmware.id, get, body);
      expect(reply).toMatchObject({ code });
      if (typeof body === 'object') expect(reply.clientToken).toBe((body as { clientToken: string }).clientToken);
    }

    const unknown = 'sensor-9.9.9-0123456789abcdef';
    await device.client.subscribeAsync(topics.streams('dev-1', unknown), { qos: 1 });
    expect(await rejection(device.client, 'dev-1', unknown, topics.streamGet('dev-1', unknown), { clientToken: 'n', blocks: [[0, 1]] }))
      .toEqual({ code: 'NotFound', message: expect.any(String), clientToken: 'n' });
    expect(await rejection(device.client, 'dev-1', unknown, topics.chunkTableGet('dev-1', unknown), ''))
      .toMatchObject({ code: 'NotFound' });

    const other = await deviceOfClass(baton, 'cam-1', 'camera');
    await other.client.subscribeAsync(topics.streams('cam-1', firmware.id), { qos: 1 });
    expect(await rejection(other.client, 'cam-1', firmware.id, topics.streamGet('cam-1', firmware.id), { blocks: [[0, 1]] }))
      .toMatchObject({ code: 'Forbidden' });
    expect(await rejection(other.client, 'cam-1', firmware.id, topics.chunkTableGet('cam-1', firmware.id), { clientToken: 'ct' }))
      .toMatchObject({ code: 'Forbidden', clientToken: 'ct' });
  });

  it('bounds the blocks outstanding per device (RateLimited) and does not queue a block twice', async () => {
    // A slow global cap keeps the queue full while the test asks for more.
    const { firmware, device } = await setup({ firmwareMaxOutstandingBlocks: 64, egressBytesPerSec: 256, firmwareBurstBytes: 256 });
    const get = topics.streamGet('dev-1', firmware.id);
    await device.client.publishAsync(get, JSON.stringify({ blocks: [[0, 64]] }), { qos: 1 });
    await device.client.publishAsync(get, JSON.stringify({ blocks: [[1, 63]] }), { qos: 1 }); // all still queued: nothing new
    expect(await rejection(device.client, 'dev-1', firmware.id, get, { clientToken: 'more', blocks: [[64, 2]] }))
      .toEqual({ code: 'RateLimited', message: expect.any(String), clientToken: 'more' });
  });

  it('forgets what it queued for a device that disconnected', async () => {
    const { baton, firmware, device } = await setup({ egressBytesPerSec: 256, firmwareBurstBytes: 256, firmwareMaxOutstandingBlocks: 64 });
    await device.client.publishAsync(topics.streamGet('dev-1', firmware.id), JSON.stringify({ blocks: [[0, 64]] }), { qos: 1 });
    await device.client.endAsync();
    const again = await baton.connectDevice(device);
    await again.subscribeAsync(topics.streams('dev-1', firmware.id), { qos: 1 });
    // Would be RateLimited if the 63 blocks still queued for the old connection were kept.
    const first = nextMessage(again, (t) => t.endsWith('/data/100'), 10_000);
    await again.publishAsync(topics.streamGet('dev-1', firmware.id), JSON.stringify({ blocks: [[100, 64]] }), { qos: 1 });
    expect((await first).payload.length).toBe(256);
  });
});
