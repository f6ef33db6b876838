/**
 * Maintenance windows on an injected clock that runs at real speed from a chosen instant (so the
 * pacing buckets refill) and can be moved: a site's nightly window in its own time zone; nothing
 * is admitted, and no firmware byte flows, outside it; a download that cannot finish before the
 * window closes is not started.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadFirmware } from '../device-sdk/firmware/download.js';
import { mqttJsLink } from '../device-sdk/firmware/link.js';
import { parseTopic, topics } from '../device-sdk/protocol/topics.js';
import { randomImage, signedManifest, tempDir, trustedKeys, uploadImage } from './helpers/firmware.js';
import { createJob, jobsClient } from './helpers/jobs.js';
import { admittedCount, allExecutions, createSites, why } from './helpers/rollouts.js';
import { eventually, nextMessage, startBaton } from './helpers/service.js';

const IMAGE = 32 * 1024;
const berlin = (local: string) => Date.parse(`${local}+02:00`); // CEST

describe('staged rollouts: maintenance windows', () => {
  it('admits and streams only inside the site\'s nightly window, in its time zone', { timeout: 60_000 }, async () => {
    let offset = berlin('2026-06-01T01:59:58') - Date.now();
    const clock = () => Date.now() + offset;
    const jumpTo = (t: number) => void (offset = t - Date.now());
    const baton = await startBaton({ jobsTickMs: 50, firmwareBurstBytes: 2048 }, { clock });
    await createSites(baton, [{ id: 'plant', uplinkBytesPerSec: 1_000_000, timeZone: 'Europe/Berlin' }]);
    // The site's own window: 02:00–03:00 local time, every night.
    const put = await baton.api('PUT', '/api/v1/sites/plant/windows', { windows: [{ cron: '0 2 * * *', durationMin: 60 }] });
    expect(put.body).toEqual({ siteId: 'plant', windows: [{ cron: '0 2 * * *', durationMin: 60 }] });

    const image = randomImage(IMAGE);
    const { body: sensorFw } = await uploadImage(baton, image, { deviceClass: 'sensor', version: '2.0.0', chunkSize: 1024 });
    const { body: meterFw } = await uploadImage(baton, randomImage(IMAGE), { deviceClass: 'meter', version: '2.0.0', chunkSize: 1024 });
    const d1 = await baton.createDevice('d1', { deviceClass: 'sensor', site: 'plant' });
    const d2 = await baton.createDevice('d2', { deviceClass: 'meter', site: 'plant' });
    const c1 = await baton.connectDevice(d1);
    const c2 = await baton.connectDevice(d2);
    // d1's link carries 10 kB/s (a 3.3 s download), d2's 1 kB/s (33 s); the broker paces each to it.
    await c1.publishAsync(topics.health('d1'), JSON.stringify({ linkKbps: 80 }), { qos: 1 });
    await c2.publishAsync(topics.health('d2'), JSON.stringify({ linkKbps: 8 }), { qos: 1 });
    await eventually(async () => ((await baton.api('GET', '/api/v1/devices/d2/health')).body.items[0]?.report?.linkKbps === 8 ? true : undefined));

    const arrivals: number[] = [];
    c1.on('message', (topic) => {
      if (parseTopic(topic)?.kind === 'stream/data') arrivals.push(clock());
    });

    // 01:59:58: closed. Not admitted, explained, and not entitled to a byte.
    await createJob(baton, { id: 'fw-night', type: 'firmware', firmwareId: sensorFw.id, targets: { devices: ['d1'] } });
    expect(await why(baton, 'fw-night', 'd1')).toMatchObject({ status: 'QUEUED', reason: 'outside-window', reasonDetails: { opensAt: '2026-06-01T00:00:00.000Z' } });
    await c1.subscribeAsync(topics.streams('d1', sensorFw.id), { qos: 1 });
    const refused = nextMessage(c1, (t) => t === topics.streamRejected('d1', sensorFw.id));
    await c1.publishAsync(topics.streamGet('d1', sensorFw.id), JSON.stringify({ blocks: [[0, 32]] }), { qos: 1 });
    expect((await refused).json.code).toBe('Forbidden');

    // 02:00: the window opens, d1 is admitted at the next tick and downloads.
    await admittedCount(baton, 'fw-night', 1, 5000);
    expect(clock()).toBeGreaterThanOrEqual(berlin('2026-06-01T02:00:00'));
    expect((await (await jobsClient(c1, d1)).request('start-next')).body.execution).toMatchObject({ jobId: 'fw-night', status: 'IN_PROGRESS' });
    const dir = tempDir();
    const download = downloadFirmware(await signedManifest(baton, sensorFw.id), {
      link: mqttJsLink(c1), deviceId: 'd1', trustedKeys: await trustedKeys(baton), deviceClass: 'sensor', freeBytes: 1 << 30,
      statePath: join(dir, 'state.json'), dir: join(dir, 'slot'), wallClock: clock, timing: { stallTimeoutMs: 400, rateLimitedBackoffMs: 200 },
    });

    // 02:59:40: a 33 s download no longer fits before 03:00. d2's job is not started.
    jumpTo(berlin('2026-06-01T02:59:40'));
    await createJob(baton, { id: 'fw-late', type: 'firmware', firmwareId: meterFw.id, targets: { devices: ['d2'] } });
    await new Promise((r) => setTimeout(r, 200));
    expect((await allExecutions(baton, 'fw-late'))[0]).toMatchObject({ admittedAt: null, reason: 'outside-window', reasonDetails: { opensAt: '2026-06-02T00:00:00.000Z' } });

    // 02:59:59 with d1 part-way: the window closes under it. Nothing flows after the close.
    await eventually(() => (arrivals.length >= 4 ? true : undefined));
    jumpTo(berlin('2026-06-01T02:59:59'));
    const close = berlin('2026-06-01T03:00:00');
    await eventually(() => (clock() > close + 1500 ? true : undefined));
    const during = arrivals.length;
    expect(during).toBeLessThan(IMAGE / 1024);
    // What was already on the wire at the close lands within moments; nothing is sent after it.
    expect(arrivals.filter((t) => t > close + 250)).toEqual([]);
    expect(await why(baton, 'fw-night', 'd1')).toMatchObject({ status: 'IN_PROGRESS', reason: 'outside-window', reasonDetails: { opensAt: '2026-06-02T00:00:00.000Z' } });
    await new Promise((r) => setTimeout(r, 500));
    expect(arrivals.length).toBe(during);

    // The next night: d1 resumes where it stopped and finishes; d2 is admitted.
    jumpTo(berlin('2026-06-02T02:00:01'));
    expect(await readFile((await download).path)).toEqual(image);
    expect(arrivals.every((t) => new Date(t).toLocaleString('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', hour12: false }) === '02' || t <= close + 250)).toBe(true);
    await admittedCount(baton, 'fw-late', 1, 5000);
  });
});
