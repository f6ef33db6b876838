import { describe, expect, it } from 'vitest';
import { createJob, jobsDevice } from './helpers/jobs.js';
import { admittedCount, allExecutions, createSites, firmwareFor, why } from './helpers/rollouts.js';
import { eventually, startBaton } from './helpers/service.js';

const T0 = Date.parse('2026-06-01T00:00:00Z');
const reasonsOf = async (baton: Awaited<ReturnType<typeof startBaton>>, jobId: string) =>
  Object.fromEntries((await allExecutions(baton, jobId)).map((e) => [e.deviceId, [e.status, e.reason, e.reasonDetails]]));

describe('staged rollouts: why a device has not updated', () => {
  it('gives every device its reason, in the executions listing and per device', async () => {
    let now = T0;
    const baton = await startBaton({ jobsTickMs: 20 }, { clock: () => now });
    // A thin uplink: 10 kB/s, 8 kB/s for firmware; one download (planned at 1 Mbit/s) fills it.
    await createSites(baton, [{ id: 'thin', uplinkBytesPerSec: 10_000 }]);
    const sensors = await firmwareFor(baton, 'sensor');
    const s = new Map<string, Awaited<ReturnType<typeof jobsDevice>>>();
    for (const id of ['s1', 's2', 's3']) s.set(id, await jobsDevice(baton, id, { deviceClass: 'sensor', site: 'thin' }));
    await baton.createDevice('s4', { deviceClass: 'sensor', site: 'thin' }); // never connected
    await baton.createDevice('v1', { deviceClass: 'valve' });
    await baton.createDevice('x1', { deviceClass: 'sensor' });
    await createJob(baton, { id: 'fw-thin', type: 'firmware', firmwareId: sensors, targets: { devices: ['s1', 's2', 's3', 's4', 'v1'] } });

    const [first] = await admittedCount(baton, 'fw-thin', 1);
    let reasons = await reasonsOf(baton, 'fw-thin');
    expect(reasons[first!]).toEqual(['QUEUED', 'notified', { at: new Date(T0).toISOString() }]);
    const others = ['s1', 's2', 's3'].filter((id) => id !== first);
    for (const id of others) expect(reasons[id]).toEqual(['QUEUED', 'waiting-for-bandwidth', null]);
    expect(reasons['s4']).toMatchObject(['QUEUED', 'offline-since', { since: expect.any(String) }]);
    expect(await why(baton, 'fw-thin', 'v1')).toEqual({ jobId: 'fw-thin', deviceId: 'v1', status: null, reason: 'incompatible', reasonDetails: null });
    expect(await why(baton, 'fw-thin', 'x1')).toMatchObject({ status: null, reason: 'not-targeted' });
    expect(await why(baton, 'fw-thin', 's4')).toMatchObject({ status: 'QUEUED', reason: 'offline-since' });

    // The notified device is busy: it asks the rollout to wait 10 minutes. It stops holding the
    // site's budget, so the next device is admitted.
    const until = new Date(T0 + 600_000).toISOString();
    const deferred = await s.get(first!)!.request('fw-thin/update', { status: 'QUEUED', statusDetails: { deferUntil: until } });
    expect(deferred.outcome).toBe('accepted');
    await admittedCount(baton, 'fw-thin', 2);
    reasons = await reasonsOf(baton, 'fw-thin');
    expect(reasons[first!]).toEqual(['QUEUED', 'deferred-by-device', { until }]);
    // A device may not defer what its rollout does not drive, nor an execution it never saw.
    expect((await s.get(others.find((id) => reasons[id]![1] === 'waiting-for-bandwidth')!)!.request('fw-thin/update', { status: 'QUEUED', statusDetails: { deferUntil: until } })).body.code).toBe('NotFound');

    // Started: no reason while it runs.
    const second = others.find((id) => reasons[id]![1] === 'notified')!;
    await s.get(second)!.request('start-next');
    expect((await reasonsOf(baton, 'fw-thin'))[second]).toEqual(['IN_PROGRESS', null, null]);
  });

  it('waiting-for-wave and outside-window (the job\'s windows in their zone, and its start time)', async () => {
    const now = T0; // 00:00 UTC: 02:00 in Berlin
    const baton = await startBaton({ jobsTickMs: 20 }, { clock: () => now });
    const gadgets = await firmwareFor(baton, 'gadget');
    for (const id of ['g1', 'g2', 'g3', 'g4']) await jobsDevice(baton, id, { deviceClass: 'gadget' });
    await createJob(baton, { id: 'fw-canary', type: 'firmware', firmwareId: gadgets, targets: { deviceClass: 'gadget' }, rollout: { canary: { count: 1 } } });
    const [canary] = await admittedCount(baton, 'fw-canary', 1);
    const reasons = await reasonsOf(baton, 'fw-canary');
    for (const id of ['g1', 'g2', 'g3', 'g4'].filter((d) => d !== canary)) expect(reasons[id]).toEqual(['QUEUED', 'waiting-for-wave', { wave: 1, currentWave: 0 }]);

    const widgets = await firmwareFor(baton, 'widget');
    await jobsDevice(baton, 'w1', { deviceClass: 'widget' });
    // Nightly 04:00–05:00 Berlin time: closed at 02:00 Berlin, opens at 02:00 UTC.
    await createJob(baton, { id: 'fw-night', type: 'firmware', firmwareId: widgets, targets: { devices: ['w1'] }, schedule: { windows: [{ cron: '0 4 * * *', durationMin: 60, timeZone: 'Europe/Berlin' }] } });
    await createJob(baton, { id: 'fw-later', type: 'custom', document: { op: 'x' }, targets: { devices: ['w1'] }, rollout: { canary: { count: 1 } }, schedule: { startAt: new Date(T0 + 3_600_000).toISOString() } });
    await new Promise((r) => setTimeout(r, 100)); // ticks pass
    expect((await reasonsOf(baton, 'fw-night'))['w1']).toEqual(['QUEUED', 'outside-window', { opensAt: '2026-06-01T02:00:00.000Z' }]);
    expect((await reasonsOf(baton, 'fw-later'))['w1']).toEqual(['QUEUED', 'outside-window', { opensAt: new Date(T0 + 3_600_000).toISOString() }]);
    await eventually(async () => ((await why(baton, 'fw-night', 'w1')).reason === 'outside-window' ? true : undefined));
  });
});
