/**
 * Two firmware rollouts on one site share its budget (issue 12): what they admit together stays
 * within the site's budget, the second gets its share as the first's downloads end, and the
 * second's dry run plans with what the first leaves.
 */
import { describe, expect, it } from 'vitest';
import { isTerminal } from '../device-sdk/protocol/jobs.js';
import { topics } from '../device-sdk/protocol/topics.js';
import { createJob, jobsDevice, type JobsDevice } from './helpers/jobs.js';
import { allExecutions, createSites, firmwareFor } from './helpers/rollouts.js';
import { eventually, startBaton, type TestBaton } from './helpers/service.js';

// 12.5 kB/s uplink: a 10 kB/s firmware budget. Devices report 32 kbit/s = 4 kB/s, so a rollout
// alone admits three (4 + 4 < 10, then 12): the third crosses the budget, as admission does.
const BUDGET = 10_000;
const RATE = 4_000;
const IMAGE = 16 * 1024;

async function devicesOf(baton: TestBaton, deviceClass: string): Promise<Map<string, JobsDevice>> {
  const devices = new Map<string, JobsDevice>();
  for (let i = 0; i < 6; i++) {
    const id = `${deviceClass}-${i}`;
    const device = await jobsDevice(baton, id, { deviceClass, site: 'plant' });
    await device.client.publishAsync(topics.health(id), JSON.stringify({ linkKbps: 32 }), { qos: 1 });
    devices.set(id, device);
  }
  const last = `${deviceClass}-5`;
  await eventually(async () => ((await baton.api('GET', `/api/v1/devices/${last}/health`)).body.items[0]?.report?.linkKbps === 32 ? true : undefined));
  return devices;
}

/** Devices admitted and not finished, per job: what holds the site's budget. */
async function inFlight(baton: TestBaton, jobId: string): Promise<string[]> {
  return (await allExecutions(baton, jobId)).filter((e) => e.admittedAt !== null && !isTerminal(e.status)).map((e) => e.deviceId);
}

describe('staged rollouts: two rollouts on one site', () => {
  it('admit within one budget together, share it as downloads end, and the second dry run plans with the first', { timeout: 30_000 }, async () => {
    const baton = await startBaton({ jobsTickMs: 50 });
    await createSites(baton, [{ id: 'plant', uplinkBytesPerSec: 12_500 }]);
    const sensors = await devicesOf(baton, 'sensor');
    await devicesOf(baton, 'meter');
    const sensorFw = await firmwareFor(baton, 'sensor', IMAGE, 1024);
    const meterFw = await firmwareFor(baton, 'meter', IMAGE, 1024);
    const jobB = { id: 'fw-meters', type: 'firmware', firmwareId: meterFw, targets: { deviceClass: 'meter' } };
    const alone = (await baton.api('POST', '/api/v1/jobs?dryRun=true', jobB)).body;

    // The first rollout takes the site: three downloads (12 kB/s expected) and three waiting.
    await createJob(baton, { id: 'fw-sensors', type: 'firmware', firmwareId: sensorFw, targets: { deviceClass: 'sensor' } });
    await eventually(async () => ((await inFlight(baton, 'fw-sensors')).length === 3 ? true : undefined));

    // The second's dry run now plans with half the site while the first has devices waiting.
    const behind = (await baton.api('POST', '/api/v1/jobs?dryRun=true', jobB)).body;
    expect(behind.lowerBoundS).toBe(alone.lowerBoundS);
    expect(behind.estimatedCompletionS).toBeGreaterThan(1.5 * alone.estimatedCompletionS);

    // Created, it admits no one while the first holds more than the budget: each planning with the
    // whole site (the bug), it would have admitted three more, 24 kB/s on a 10 kB/s budget.
    await createJob(baton, jobB);
    await new Promise((r) => setTimeout(r, 500));
    expect(await inFlight(baton, 'fw-meters')).toEqual([]);

    // The first's downloads end: the second gets its share, and together they stay within the
    // budget (plus the one download that crosses it) at every look.
    for (const id of await inFlight(baton, 'fw-sensors')) await sensors.get(id)!.request('fw-sensors/update', { status: 'SUCCEEDED' });
    const held: number[] = [];
    await eventually(async () => {
      const both = [...(await inFlight(baton, 'fw-sensors')), ...(await inFlight(baton, 'fw-meters'))];
      held.push(both.length * RATE);
      return both.some((id) => id.startsWith('meter')) ? true : undefined;
    });
    for (let i = 0; i < 5; i++) {
      held.push(((await inFlight(baton, 'fw-sensors')).length + (await inFlight(baton, 'fw-meters')).length) * RATE);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Math.max(...held)).toBeLessThanOrEqual(BUDGET + RATE);
    expect((await inFlight(baton, 'fw-sensors')).length).toBeGreaterThan(0);
  });
});
