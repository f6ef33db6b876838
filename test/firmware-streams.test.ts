import { createHash } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import WebSocket from 'ws';
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

  it('sends a block only where a subscription of the device matches it (QoS 0), counted in the messages out', async () => {
    const { baton, image, firmware, device } = await setup();
    const out = async () => {
      const text = (await baton.api('GET', '/metrics')).body as string;
      const value = (name: string) => Number(new RegExp(`^${name}\\{kind="devices"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
      return { messages: value('baton_messages_out_total'), bytes: value('baton_bytes_out_total') };
    };
    const before = await out();
    const received: number[] = [];
    device.client.on('message', (topic) => {
      const m = /\/data\/(\d+)$/.exec(topic);
      if (m) received.push(Number(m[1]));
    });
    // Subscribed to block 3 alone: blocks 0..5 are asked for, only block 3 may arrive.
    await device.client.unsubscribeAsync(topics.streams('dev-1', firmware.id));
    await device.client.subscribeAsync(topics.streamData('dev-1', firmware.id, 3), { qos: 0 });
    const three = nextMessage(device.client, (t) => t.endsWith('/data/3'));
    await device.client.publishAsync(topics.streamGet('dev-1', firmware.id), JSON.stringify({ blocks: [[0, 6]] }), { qos: 1 });
    expect((await three).payload).toEqual(image.subarray(3 * 256, 4 * 256));
    // Blocks go out in the order asked: once block 10 arrives, 0..5 were either sent or dropped.
    await device.client.subscribeAsync(topics.streams('dev-1', firmware.id), { qos: 0 });
    const ten = nextMessage(device.client, (t) => t.endsWith('/data/10'));
    await device.client.publishAsync(topics.streamGet('dev-1', firmware.id), JSON.stringify({ blocks: [[10, 1]] }), { qos: 1 });
    await ten;
    expect(received).toEqual([3, 10]);
    const after = await out();
    expect({ messages: after.messages - before.messages, bytes: after.bytes - before.bytes }).toEqual({ messages: 2, bytes: 512 });
  });

  it('over a WebSocket, sends one packet a WebSocket message, however many blocks go at once', async () => {
    const { baton, image, firmware } = await setup();
    const device = await baton.createDevice('dev-ws', { deviceClass: 'sensor' });
    // A raw WebSocket, to see the messages themselves: a device's WebSocket stack need not take
    // a message larger than one block, and the broker writes a whole request at once.
    const ws = new WebSocket(baton.wsUrl, 'mqtt');
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const packets: Array<{ cmd: string; topic?: string; payload?: Buffer }> = [];
    const perMessage: number[] = [];
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p) => packets.push(p as never));
    ws.on('message', (data: Buffer) => {
      const before = packets.length;
      parser.parse(data);
      perMessage.push(packets.length - before);
    });
    const next = async (cmd: string, count = 1) => {
      const deadline = Date.now() + 5000;
      while (packets.filter((p) => p.cmd === cmd).length < count) {
        if (Date.now() > deadline) throw new Error(`no ${cmd}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    ws.send(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: device.id, username: device.id, password: Buffer.from(device.secret) }));
    await next('connack');
    await entitle(baton, firmware.id, [device.id]);
    ws.send(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: topics.streams(device.id, firmware.id), qos: 0 }] }));
    await next('suback');
    ws.send(mqttPacket.generate({ cmd: 'publish', topic: topics.streamGet(device.id, firmware.id), payload: JSON.stringify({ blocks: [[0, 64]] }), qos: 0, retain: false, dup: false }));
    await next('publish', 64);
    const blocks = packets.filter((p) => p.cmd === 'publish');
    expect(blocks.map((p) => p.topic)).toEqual(Array.from({ length: 64 }, (_, i) => topics.streamData(device.id, firmware.id, i)));
    blocks.forEach((p, i) => expect(p.payload).toEqual(image.subarray(i * 256, (i + 1) * 256)));
    expect(perMessage.every((n) => n <= 1)).toBe(true);
    ws.close();
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
