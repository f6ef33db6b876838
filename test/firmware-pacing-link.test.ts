/**
 * Link-true pacing over real sockets (issue 12): two SDK devices behind one site with a 32 KiB/s
 * or 64 KiB/s uplink download, in 4 KiB or 16 KiB blocks, each as soon as its rollout admits it. The firmware bytes (blocks and
 * chunk tables) that reach the devices in any window of W ≥ 1 s stay within 0.8 × U × W + one
 * block, from the very first byte: no bucket starts full, and none holds seconds of the link.
 *
 * Measured at the receivers, in this process: a block that arrives late while the ones after it
 * arrive on time squeezes a window. The worst 1 s window sits 0.2–0.6 block under the bound (about
 * 40 ms of the budget or more), which absorbs that much delivery jitter; the limiter's own grants
 * are checked exactly, on a fake clock, in firmware-updates/pacing.unit.test.ts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadFirmware } from '../device-sdk/firmware/download.js';
import { mqttJsLink } from '../device-sdk/firmware/link.js';
import { busiestWindow, recordArrivals, type Arrival } from './helpers/arrivals.js';
import { deviceOfClass, firmwareFixture } from './helpers/firmware.js';
import { admittedIds } from './helpers/rollouts.js';
import { eventually } from './helpers/service.js';

const KiB = 1024;
/** Seconds of the site's budget the two downloads take together. */
const TRANSFER_S = 3;

describe('link-true firmware pacing at a site', () => {
  it.each([
    { uplink: 32 * KiB, block: 4 * KiB },
    { uplink: 32 * KiB, block: 16 * KiB },
    { uplink: 64 * KiB, block: 4 * KiB },
    { uplink: 64 * KiB, block: 16 * KiB },
  ])('uplink $uplink B/s, $block B blocks: at most 0.8 × U × W + one block reaches the devices in any window', async ({ uplink, block }) => {
    const budget = 0.8 * uplink;
    const blocks = Math.ceil((budget * TRANSFER_S) / 2 / block);
    const site = { id: 'plant', uplinkBytesPerSec: uplink };
    const fx = await firmwareFixture(blocks, block, { site });
    const second = await deviceOfClass(fx.baton, 'dev-2', 'sensor', { site: site.id });
    // A second rollout to the same site: it shares the site's budget, so it may admit dev-2 only
    // once dev-1's download is under way. Each device starts the moment it is admitted.
    const job = await fx.baton.api('POST', '/api/v1/jobs', { type: 'firmware', firmwareId: fx.firmware.id, targets: { devices: ['dev-2'] } });
    expect(job.status).toBe(201);
    const admitted = (jobId: string, id: string) => eventually(async () => ((await admittedIds(fx.baton, jobId)).includes(id) ? true : undefined), 20_000);

    const arrivals: Arrival[] = [];
    const results = await Promise.all(([[fx.device.client, fx.jobId], [second.client, job.body.id]] as const).map(async ([client, jobId], i) => {
      await admitted(jobId, `dev-${i + 1}`);
      return downloadFirmware(fx.manifest, fx.options(recordArrivals(mqttJsLink(client), arrivals, ['stream/data', 'stream/chunk-table']), {
        deviceId: `dev-${i + 1}`,
        statePath: join(fx.dir, `state-${i}.json`),
        dir: join(fx.dir, `slot-${i}`),
      }));
    }));
    for (const r of results) expect(await readFile(r.path)).toEqual(fx.image);

    expect(arrivals.reduce((n, a) => n + a.bytes, 0)).toBe(2 * (fx.image.length + 32 * blocks));
    for (const windowMs of [1000, 2000]) {
      expect(busiestWindow(arrivals, windowMs)).toBeLessThanOrEqual((budget * windowMs) / 1000 + block);
    }
  });
});
