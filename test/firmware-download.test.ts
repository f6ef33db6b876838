import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadFirmware, recordInstalled, type DownloadProgress } from '../device-sdk/firmware/download.js';
import { mqttJsLink, type FirmwareLink } from '../device-sdk/firmware/link.js';
import { codeOf } from '../device-sdk/firmware/test-fixtures.js';
import { parseTopic, topics } from '../device-sdk/protocol/topics.js';
import { deviceOfClass, firmwareFixture as setup, randomImage, tempDir } from './helpers/firmware.js';

/** Records the block requests a device publishes and lets a test change blocks on their way in. */
function observed(link: FirmwareLink, tamper: (index: number, payload: Buffer) => Buffer = (_, p) => p) {
  const requests: Array<Array<[number, number]>> = [];
  const wrapped: FirmwareLink = {
    ...link,
    onTopic: (filter, handler) =>
      link.onTopic(filter, (m) => {
        const parsed = parseTopic(m.topic);
        const index = parsed?.kind === 'stream/data' ? Number(parsed.params.blockIndex) : undefined;
        handler(index === undefined ? m : { topic: m.topic, payload: tamper(index, m.payload) });
      }),
    publish: (topic, payload, qos) => {
      if (parseTopic(topic)?.kind === 'stream/get') requests.push(JSON.parse(payload).blocks);
      return link.publish(topic, payload, qos);
    },
  };
  return { link: wrapped, requests };
}

describe('firmware download with the device SDK', () => {
  it('downloads over MQTT, verifying every block, and returns the verified image', async () => {
    const { image, firmware, device, manifest, options } = await setup(300, 1024);
    const progress: DownloadProgress[] = [];
    const result = await downloadFirmware(manifest, options(mqttJsLink(device.client), { onProgress: (p) => progress.push(p) }));
    expect(result.manifest.firmwareId).toBe(firmware.id);
    expect(await readFile(result.path)).toEqual(image);
    expect(progress).toHaveLength(300);
    expect(progress.at(-1)).toMatchObject({ bytes: image.length, size: image.length, blocks: 300, blockCount: 300 });
    expect(progress.every((p, i) => p.blocks === i + 1 && p.bytesPerSec > 0)).toBe(true);

    // Once installed, the same manifest is a replay.
    await recordInstalled(options(mqttJsLink(device.client)).statePath, result.manifest);
    expect(await codeOf(() => downloadFirmware(manifest, options(mqttJsLink(device.client))))).toBe('Replay');
  });

  it('asks again for a block corrupted in transit, and for that block alone', async () => {
    const { image, device, manifest, options } = await setup();
    let corrupted = 0;
    const { link, requests } = observed(mqttJsLink(device.client), (index, payload) => {
      if (index !== 77 || corrupted++ > 0) return payload;
      const bad = Buffer.from(payload);
      bad[10]! ^= 0xff;
      return bad;
    });
    const result = await downloadFirmware(manifest, options(link));
    expect(await readFile(result.path)).toEqual(image);
    const asked = requests.flatMap((runs) => runs.flatMap(([first, count]) => Array.from({ length: count }, (_, i) => first + i)));
    expect(asked.filter((i) => i === 77)).toHaveLength(2);
    expect(requests.filter((runs) => runs.some(([f, c]) => f <= 77 && 77 < f + c)).at(-1)).toEqual([[77, 1]]);
    expect(asked.length).toBe(201);
  });

  it('refuses what the device is not entitled to or what does not exist', async () => {
    const { baton, image, device, manifest, options, jobId } = await setup();
    // The broker refuses a device of another class even if the SDK were talked into asking.
    const camera = await deviceOfClass(baton, 'cam-1', 'camera');
    const asCamera = options(mqttJsLink(camera.client), { deviceId: 'cam-1', deviceClass: 'camera' });
    expect(await codeOf(() => downloadFirmware(manifest, asCamera))).toBe('Incompatible');
    const lying = options(mqttJsLink(camera.client), { deviceId: 'cam-1', statePath: join(tempDir(), 's.json') });
    expect(await codeOf(() => downloadFirmware(manifest, lying))).toBe('Forbidden');
    // Deleted on the server (once no job uses it) while the device still holds its manifest.
    const id = JSON.parse(Buffer.from(manifest.split('.')[1]!, 'base64url').toString()).firmwareId as string;
    expect((await baton.api('POST', `/api/v1/jobs/${jobId}/cancel`, {})).status).toBe(200);
    expect((await baton.api('DELETE', `/api/v1/firmware/${id}`)).status).toBe(204);
    expect(await codeOf(() => downloadFirmware(manifest, options(mqttJsLink(device.client))))).toBe('NotFound');
    expect(image.length).toBe(51_200);
  });
});

/**
 * A test double of the broker's stream: answers requests from memory, through `serve`, which
 * may change what a block carries.
 */
function fakeStream(deviceId: string, firmwareId: string, image: Buffer, chunkSize: number, serve: (index: number, block: Buffer) => Buffer): FirmwareLink {
  let handler: ((m: { topic: string; payload: Buffer }) => void) | undefined;
  const table = Buffer.concat(
    Array.from({ length: Math.ceil(image.length / chunkSize) }, (_, i) => createHash('sha256').update(image.subarray(i * chunkSize, (i + 1) * chunkSize)).digest()),
  );
  const send = (topic: string, payload: Buffer) => setImmediate(() => handler?.({ topic, payload }));
  return {
    async onTopic(_filter, h) {
      handler = h;
      return async () => {
        handler = undefined;
      };
    },
    async publish(topic, payload) {
      const parsed = parseTopic(topic);
      if (parsed?.kind === 'stream/chunk-table/get') send(topics.chunkTable(deviceId, firmwareId), table);
      if (parsed?.kind !== 'stream/get') return;
      for (const [first, count] of JSON.parse(payload).blocks as Array<[number, number]>) {
        for (let i = first; i < first + count; i++) {
          send(topics.streamData(deviceId, firmwareId, i), serve(i, image.subarray(i * chunkSize, (i + 1) * chunkSize)));
        }
      }
    },
  };
}

describe('firmware download against a misbehaving stream (test double)', () => {
  it('fails with TooLarge when a block carries more bytes than its range, or lies beyond the image', async () => {
    const { image, firmware, manifest, options } = await setup(10, 256);
    const lastBlockPlusOne = fakeStream('dev-1', firmware.id, image, 256, (i, block) => (i === 9 ? Buffer.concat([block, Buffer.from([0])]) : block));
    expect(await codeOf(() => downloadFirmware(manifest, options(lastBlockPlusOne)))).toBe('TooLarge');
    const beyondTheEnd = fakeStream('dev-1', firmware.id, image, 256, (_, block) => block);
    const extra: FirmwareLink = {
      ...beyondTheEnd,
      publish: async (topic, payload, qos) => {
        await beyondTheEnd.publish(topic, payload, qos);
        if (parseTopic(topic)?.kind === 'stream/get') await beyondTheEnd.publish(topics.streamGet('dev-1', firmware.id), JSON.stringify({ blocks: [[10, 1]] }), qos);
      },
    };
    expect(await codeOf(() => downloadFirmware(manifest, options(extra)))).toBe('TooLarge');
  });

  it('fails with ChunkDigestMismatch when a block stays corrupt, and with ChunkTableMismatch for a forged table', async () => {
    const { image, firmware, manifest, options } = await setup(10, 256);
    const alwaysBad = fakeStream('dev-1', firmware.id, image, 256, (i, block) => (i === 3 ? Buffer.alloc(block.length) : block));
    expect(await codeOf(() => downloadFirmware(manifest, options(alwaysBad)))).toBe('ChunkDigestMismatch');
    const otherImage = fakeStream('dev-1', firmware.id, randomImage(image.length), 256, (_, block) => block);
    expect(await codeOf(() => downloadFirmware(manifest, options(otherImage)))).toBe('ChunkTableMismatch');
  });
});
