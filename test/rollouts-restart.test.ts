import { describe, expect, it } from 'vitest';
import { createJob, jobDetail, jobsClient, jobsDevice, jobStatus, type JobsDevice } from './helpers/jobs.js';
import { admittedCount, allExecutions, createSites, firmwareFor, storedRollout } from './helpers/rollouts.js';
import { eventually, startBaton, type TestBaton } from './helpers/service.js';

const T0 = Date.parse('2026-06-01T00:00:00Z');
const SITES = ['north', 'south', 'east'];

describe('staged rollouts across a broker restart', () => {
  it('resumes with the same waves, the wave it was in, its admissions and the bytes already delivered', async () => {
    let now = T0;
    let baton: TestBaton = await startBaton({ jobsTickMs: 20 }, { clock: () => now });
    await createSites(baton, SITES.map((id) => ({ id, uplinkBytesPerSec: 100_000_000 })));
    const firmwareId = await firmwareFor(baton, 'sensor', 8192, 1024);
    const secrets = new Map<string, string>();
    let devices = new Map<string, JobsDevice>();
    for (let i = 0; i < 9; i++) {
      const id = `d${i}`;
      const d = await jobsDevice(baton, id, { deviceClass: 'sensor', site: SITES[i % 3] });
      secrets.set(id, d.secret);
      devices.set(id, d);
    }
    // 9 targets: a canary of 3, then up to 50 % (2 more), then the last 4.
    await createJob(baton, { id: 'fw-restart', type: 'firmware', firmwareId, targets: { deviceClass: 'sensor' }, rollout: { canary: { count: 3 }, waves: { percents: [50] } }, timeouts: { inProgressS: 3600 } });
    const canary = await admittedCount(baton, 'fw-restart', 3);
    for (const id of canary) await devices.get(id)!.request('fw-restart/update', { status: 'SUCCEEDED' });
    const wave1 = (await admittedCount(baton, 'fw-restart', 5)).filter((id) => !canary.includes(id));
    // One device of wave 1 is half-way through its download; the other has not started.
    const [busy, idle] = wave1 as [string, string];
    await devices.get(busy)!.request('start-next');
    await devices.get(busy)!.request('fw-restart/update', { status: 'IN_PROGRESS', progress: { bytes: 4096, totalBytes: 8192, percent: 50 } });
    now += 2000;
    await eventually(() => (storedRollout(baton, 'fw-restart')?.state.executions[busy]?.bytes === 4096 ? true : undefined));
    const before = storedRollout(baton, 'fw-restart')!;
    expect(before.state.released).toBe(1);

    now += 60_000;
    baton = await baton.restart();
    devices = new Map();
    for (const [id, secret] of secrets) devices.set(id, await jobsClient(await baton.connectDevice({ id, secret }), { id, secret }));

    // Same waves, same wave released, the admissions kept, the partial download remembered.
    const after = storedRollout(baton, 'fw-restart')!;
    expect(after.state.waves).toEqual(before.state.waves);
    expect(after.state.released).toBe(1);
    expect(after.state.executions[busy]).toMatchObject({ status: 'IN_PROGRESS', bytes: 4096 });
    expect((await jobDetail(baton, 'fw-restart')).currentWave).toBe(1);
    const last = before.state.waves[2] as string[];
    const listed = Object.fromEntries((await allExecutions(baton, 'fw-restart')).map((e) => [e.deviceId, e]));
    for (const id of last) expect(listed[id]).toMatchObject({ status: 'QUEUED', admittedAt: null, reason: 'waiting-for-wave', reasonDetails: { wave: 2, currentWave: 1 } });
    expect(listed[idle]).toMatchObject({ status: 'QUEUED', reason: 'notified' });
    // Nothing more is admitted while wave 1 runs.
    await new Promise((r) => setTimeout(r, 200));
    expect(await admittedCount(baton, 'fw-restart', 5)).toHaveLength(5);

    // The busy device resumes where it was and finishes; wave 1 settles; the last wave goes.
    expect((await devices.get(busy)!.request('get')).body.inProgressJobs[0]).toMatchObject({ jobId: 'fw-restart' });
    await devices.get(busy)!.request('fw-restart/update', { status: 'IN_PROGRESS', progress: { bytes: 8192, totalBytes: 8192, percent: 100 } });
    await devices.get(busy)!.request('fw-restart/update', { status: 'SUCCEEDED' });
    await devices.get(idle)!.request('fw-restart/update', { status: 'SUCCEEDED' });
    const all = await admittedCount(baton, 'fw-restart', 9);
    expect(new Set(all.filter((id) => !canary.includes(id) && !wave1.includes(id)))).toEqual(new Set(last));
    for (const id of last) await devices.get(id)!.request('fw-restart/update', { status: 'SUCCEEDED' });
    await jobStatus(baton, 'fw-restart', 'COMPLETED');
    expect(storedRollout(baton, 'fw-restart')!.phase).toBe('completed');
  });
});
