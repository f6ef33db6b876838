import { describe, expect, it } from 'vitest';
import { createJob, jobDetail, jobsDevice, jobStatus, type JobsDevice } from './helpers/jobs.js';
import { admittedCount, allExecutions, createSites, firmwareFor, rolloutEvents } from './helpers/rollouts.js';
import { startBaton, type TestBaton } from './helpers/service.js';

const SITES = ['north', 'south', 'east'];

/** 12 connected sensors, four per site, with uplinks no wave can fill. */
async function fleet(baton: TestBaton): Promise<Map<string, JobsDevice>> {
  await createSites(baton, SITES.map((id) => ({ id, uplinkBytesPerSec: 100_000_000 })));
  const devices = new Map<string, JobsDevice>();
  for (let i = 0; i < 12; i++) {
    const id = `d${String(i).padStart(2, '0')}`;
    devices.set(id, await jobsDevice(baton, id, { deviceClass: 'sensor', site: SITES[i % 3] }));
  }
  return devices;
}

const siteOf = (id: string) => SITES[Number(id.slice(1)) % 3];

describe('staged rollouts: waves and success gates', () => {
  it('draws the canary across sites, releases each wave once the previous passes, and completes', async () => {
    const baton = await startBaton({ jobsTickMs: 50 });
    const devices = await fleet(baton);
    const firmwareId = await firmwareFor(baton);
    const events = await rolloutEvents(baton, 'fw-waves');
    // 12 targets: a canary of 3, then up to 50 % (3 more), then the rest (6); a wave passes at ≥ 60 %.
    await createJob(baton, { id: 'fw-waves', type: 'firmware', firmwareId, targets: { deviceClass: 'sensor' }, rollout: { canary: { count: 3 }, waves: { percents: [50] }, successThresholdPct: 60 } });

    const canary = await admittedCount(baton, 'fw-waves', 3);
    expect(new Set(canary.map(siteOf))).toEqual(new Set(SITES)); // one device of every site
    const waiting = (await allExecutions(baton, 'fw-waves')).filter((e) => !canary.includes(e.deviceId));
    expect(waiting.every((e) => e.status === 'QUEUED' && e.reason === 'waiting-for-wave' && e.reasonDetails.currentWave === 0)).toBe(true);
    expect(new Set(waiting.map((e) => e.reasonDetails.wave))).toEqual(new Set([1, 2]));
    expect((await jobDetail(baton, 'fw-waves')).currentWave).toBe(0);

    // Nothing of wave 1 starts while the canary runs.
    await devices.get(canary[0]!)!.request('fw-waves/update', { status: 'SUCCEEDED' });
    await devices.get(canary[1]!)!.request('fw-waves/update', { status: 'SUCCEEDED' });
    await new Promise((r) => setTimeout(r, 200));
    expect(await admittedCount(baton, 'fw-waves', 3)).toHaveLength(3);
    await devices.get(canary[2]!)!.request('fw-waves/update', { status: 'SUCCEEDED' });

    expect(await events.next('wave-passed', (e) => e.wave === 0)).toMatchObject({ jobId: 'fw-waves', successPct: 100 });
    expect(await events.next('wave-released', (e) => e.wave === 1)).toMatchObject({ devices: 3 });
    const wave1 = (await admittedCount(baton, 'fw-waves', 6)).filter((id) => !canary.includes(id));
    // One failure of three: 66.7 % ≥ 60 %, the wave passes.
    await devices.get(wave1[0]!)!.request('fw-waves/update', { status: 'FAILED', statusDetails: { reason: 'FlashError' } });
    for (const id of wave1.slice(1)) await devices.get(id)!.request('fw-waves/update', { status: 'SUCCEEDED' });
    expect((await events.next('wave-passed', (e) => e.wave === 1)).successPct).toBeCloseTo(66.67, 1);

    const rest = (await admittedCount(baton, 'fw-waves', 12)).filter((id) => !canary.includes(id) && !wave1.includes(id));
    expect(rest).toHaveLength(6);
    for (const id of rest) await devices.get(id)!.request('fw-waves/update', { status: 'SUCCEEDED' });
    await jobStatus(baton, 'fw-waves', 'COMPLETED');
    await events.next('completed');
    expect(events.events.map((e) => e.event).filter((e) => e !== 'status' && e !== 'created')).toEqual([
      'started', 'wave-released', 'wave-passed', 'wave-released', 'wave-passed', 'wave-released', 'completed',
    ]);
    expect((await jobDetail(baton, 'fw-waves')).counts).toMatchObject({ SUCCEEDED: 11, FAILED: 1 });
  });

  it('a wave under its success threshold fails its gate: the job is ABORTED and the later waves never start', async () => {
    const baton = await startBaton({ jobsTickMs: 50 });
    const devices = await fleet(baton);
    const firmwareId = await firmwareFor(baton);
    const events = await rolloutEvents(baton, 'fw-gate');
    await createJob(baton, { id: 'fw-gate', type: 'firmware', firmwareId, targets: { deviceClass: 'sensor' }, rollout: { canary: { count: 3 }, successThresholdPct: 100 } });
    const canary = await admittedCount(baton, 'fw-gate', 3);
    await devices.get(canary[0]!)!.request('fw-gate/update', { status: 'SUCCEEDED' });
    await devices.get(canary[1]!)!.request('fw-gate/update', { status: 'REJECTED', statusDetails: { reason: 'Incompatible' } });
    // The wave is not settled yet: one canary device is still to report.
    expect((await jobDetail(baton, 'fw-gate')).status).toBe('IN_PROGRESS');
    await devices.get(canary[2]!)!.request('fw-gate/update', { status: 'SUCCEEDED' });

    const stopped = await events.next('stopped');
    expect(stopped).toMatchObject({ phase: 'aborted', cause: { kind: 'wave-failed', wave: 0 } });
    await jobStatus(baton, 'fw-gate', 'ABORTED');
    expect((await jobDetail(baton, 'fw-gate')).reason).toMatch(/wave 0 failed its success gate/);
    const executions = await allExecutions(baton, 'fw-gate');
    const later = executions.filter((e) => !canary.includes(e.deviceId));
    expect(later.every((e) => e.status === 'CANCELED' && e.admittedAt === null && e.reason === 'aborted')).toBe(true);
    expect(events.events.some((e) => e.event === 'wave-released' && e.wave === 1)).toBe(false);
  });
});
