import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadFirmware } from '../device-sdk/firmware/download.js';
import { mqttJsLink } from '../device-sdk/firmware/link.js';
import { parseTopic, topics } from '../device-sdk/protocol/topics.js';
import { busiestWindow, recordArrivals, type Arrival } from './helpers/arrivals.js';
import { deviceOfClass, entitle, firmwareFixture, randomImage, tempDir, uploadImage } from './helpers/firmware.js';

const CHUNK = 256;
const BURST = 1024;
const RATE = 16_384;

describe('firmware pacing', () => {
  it.each([
    { level: 'global (BATON_EGRESS_BYTES_PER_SEC), two devices', config: { egressBytesPerSec: RATE }, devices: 2, siteUplink: undefined },
    { level: 'per device (BATON_FIRMWARE_DEVICE_BYTES_PER_SEC)', config: { firmwareDeviceBytesPerSec: RATE }, devices: 1, siteUplink: undefined },
    { level: 'per site (80% of uplinkBytesPerSec)', config: {}, devices: 1, siteUplink: RATE / 0.8 },
  ])('never sends more than rate × window + depth: $level', async ({ config, devices, siteUplink }) => {
    const site = siteUplink ? { id: 'plant', uplinkBytesPerSec: siteUplink } : undefined;
    const fx = await firmwareFixture(48, CHUNK, { config: { ...config, firmwareBurstBytes: BURST }, ...(site ? { site } : {}) });
    const arrivals: Arrival[] = [];
    const clients = [fx.device.client];
    for (let i = 1; i < devices; i++) clients.push((await deviceOfClass(fx.baton, `dev-${i + 1}`, 'sensor')).client);
    const download = (i: number) => downloadFirmware(fx.manifest, fx.options(recordArrivals(mqttJsLink(clients[i]!), arrivals), {
      deviceId: `dev-${i + 1}`,
      statePath: join(fx.dir, `state-${i}.json`),
      dir: join(fx.dir, `slot-${i}`),
    }));
    // dev-1 starts at once; the others' rollout shares the service's budget with dev-1's, so it
    // admits them once dev-1's download is under way, and each starts when admitted.
    const downloads = [download(0)];
    if (devices > 1) {
      await entitle(fx.baton, fx.firmware.id, clients.slice(1).map((_, i) => `dev-${i + 2}`));
      for (let i = 1; i < devices; i++) downloads.push(download(i));
    }
    const results = await Promise.all(downloads);
    for (const r of results) expect(await readFile(r.path)).toEqual(fx.image);

    // Arrivals trail the limiter's grants by the delivery delay, which a busy event loop (broker
    // and device share this process) stretches: a receiver's window may hold a few blocks more
    // than the limiter granted in it. Slack: 100 ms at the rate, or four blocks. An unpaced stream
    // would deliver the whole 12–24 KiB at once. The limiter's own accounting is checked exactly,
    // on a fake clock, in broker/firmware/delivery.unit.test.ts.
    const slack = Math.max(4 * CHUNK, RATE * 0.1);
    for (const windowMs of [250, 500, 1000]) {
      expect(busiestWindow(arrivals, windowMs)).toBeLessThanOrEqual((RATE * windowMs) / 1000 + BURST + slack);
    }
    const total = arrivals.reduce((n, a) => n + a.bytes, 0);
    expect(total).toBe(devices * 48 * CHUNK);
    const spanMs = arrivals.at(-1)!.at - arrivals[0]!.at;
    expect(total).toBeLessThanOrEqual((RATE * spanMs) / 1000 + BURST + slack + CHUNK);
  });

  it('keeps serving other devices while one device does not read its socket, and stops feeding that one', async () => {
    const fx = await firmwareFixture(64, CHUNK);
    const BLOCK = 128 * 1024;
    const { body: large } = await uploadImage(fx.baton, randomImage(128 * BLOCK), { deviceClass: 'gateway', version: '1', chunkSize: BLOCK });
    const slow = await deviceOfClass(fx.baton, 'gw-1', 'gateway');
    await entitle(fx.baton, large.id, ['gw-1']);
    let received = 0;
    slow.client.on('message', (topic) => {
      if (parseTopic(topic)?.kind === 'stream/data') received++;
    });
    await slow.client.subscribeAsync(topics.streams('gw-1', large.id), { qos: 1 });
    for (const first of [0, 64]) {
      await slow.client.publishAsync(topics.streamGet('gw-1', large.id), JSON.stringify({ blocks: [[first, 64]] }), { qos: 1 });
    }
    slow.client.stream.pause(); // the device stops reading: its socket fills up

    const result = await downloadFirmware(fx.manifest, fx.options(mqttJsLink(fx.device.client), { dir: join(tempDir(), 'slot') }));
    expect(await readFile(result.path)).toEqual(fx.image);
    // Backpressure: of the 16 MiB asked for, the broker handed the socket only what its buffers
    // took (about 4 MiB on Linux loopback) plus a few blocks, and holds none of the rest in memory.
    const handedOver = await sentBytes(fx.baton) - fx.image.length - 64 * 32;
    expect(handedOver).toBeLessThan(64 * BLOCK);

    slow.client.stream.resume();
    await expect.poll(() => received, { timeout: 20_000 }).toBe(128);
  });
});

async function sentBytes(baton: { api(method: string, path: string): Promise<{ body: string }> }): Promise<number> {
  const text = (await baton.api('GET', '/metrics')).body;
  return Number(/^baton_firmware_stream_bytes_total (\d+)/m.exec(text)?.[1]);
}
