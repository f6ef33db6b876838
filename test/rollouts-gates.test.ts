/**
 * Gates that need time to pass (a fake clock): health gating over the soak, and the schedule's end.
 */
import { describe, expect, it } from 'vitest';
import { topics } from '../device-sdk/protocol/topics.js';
import { createJob, jobDetail, jobsDevice, jobStatus, type JobsDevice } from './helpers/jobs.js';
import { admittedCount, allExecutions, firmwareFor, rolloutEvents } from './helpers/rollouts.js';
import { ADMIN_TOKEN, eventually, startBaton } from './helpers/service.js';

const T0 = Date.parse('2026-06-01T00:00:00Z');

describe('staged rollouts: health gating and the schedule end', () => {
  it('fails a wave whose updated devices go stale during the soak while the others stay healthy', async () => {
    let now = T0;
    const baton = await startBaton({ jobsTickMs: 20 }, { clock: () => now });
    const firmwareId = await firmwareFor(baton);
    const devices = new Map<string, JobsDevice>();
    for (const id of ['d1', 'd2', 'd3', 'd4', 'd5', 'd6']) devices.set(id, await jobsDevice(baton, id, { deviceClass: 'sensor' }));
    const events = await rolloutEvents(baton, 'fw-health');
    await createJob(baton, { id: 'fw-health', type: 'firmware', firmwareId, targets: { deviceClass: 'sensor' }, rollout: { canary: { count: 2 }, soakS: 600 } });
    const canary = await admittedCount(baton, 'fw-health', 2);
    const control = [...devices.keys()].filter((id) => !canary.includes(id));
    // Every device says how often it reports: the canary every 10 s, the others every hour.
    for (const [id, d] of devices) await d.client.publishAsync(topics.health(id), JSON.stringify({ intervalS: canary.includes(id) ? 10 : 3600 }), { qos: 1 });
    for (const id of canary) await devices.get(id)!.request('fw-health/update', { status: 'SUCCEEDED' });
    expect(await events.next('wave-passed', (e) => e.wave === 0)).toMatchObject({ soakUntil: new Date(T0 + 600_000).toISOString() });

    // Within the soak, the updated devices fall silent (stale after 3 × 10 s); the others do not.
    // Presence announces it at its next sweep (every second).
    const watcher = await baton.connect({ clientId: 'presence-watch', username: 'api', password: ADMIN_TOKEN });
    const stale = new Set<string>();
    watcher.on('message', (_t, p) => {
      const e = JSON.parse(p.toString());
      if (e.event === 'stale') stale.add(e.deviceId);
    });
    await watcher.subscribeAsync('fleet/events/presence/+', { qos: 1 });
    now += 200_000;
    await eventually(() => (canary.every((id) => stale.has(id)) ? true : undefined));
    expect((await baton.api('GET', `/api/v1/devices/${control[0]}`)).body.status).toBe('online');
    // The soak ends: the canary did worse than the devices still on the old firmware.
    now += 500_000;
    const stopped = await events.next('stopped');
    expect(stopped).toMatchObject({ phase: 'aborted', cause: { kind: 'health', wave: 0, regressions: [{ metric: 'stalePct', updated: 100, baseline: 0 }] } });
    await jobStatus(baton, 'fw-health', 'ABORTED');
    expect((await jobDetail(baton, 'fw-health')).reason).toMatch(/wave 0 regressed health: stalePct/);
    expect((await allExecutions(baton, 'fw-health')).filter((e) => control.includes(e.deviceId)).every((e) => e.status === 'CANCELED' && e.admittedAt === null)).toBe(true);
  });

  it('at the schedule\'s end ("stop") admits no one more: the rest is canceled and the job completes with what ran', async () => {
    let now = T0;
    const baton = await startBaton({ jobsTickMs: 20 }, { clock: () => now });
    const firmwareId = await firmwareFor(baton);
    const devices = new Map<string, JobsDevice>();
    for (const id of ['d1', 'd2', 'd3', 'd4']) devices.set(id, await jobsDevice(baton, id, { deviceClass: 'sensor' }));
    await createJob(baton, {
      id: 'fw-end', type: 'firmware', firmwareId, targets: { deviceClass: 'sensor' },
      rollout: { canary: { count: 1 } }, schedule: { endAt: new Date(T0 + 3_600_000).toISOString(), endBehavior: 'stop' },
    });
    const [canary] = await admittedCount(baton, 'fw-end', 1);
    await devices.get(canary!)!.request('start-next');
    now += 3_600_000; // the end passes while the canary runs
    await eventually(async () => ((await allExecutions(baton, 'fw-end')).filter((e) => e.status === 'CANCELED').length === 3 ? true : undefined));
    const listed = await allExecutions(baton, 'fw-end');
    for (const e of listed.filter((x) => x.deviceId !== canary)) {
      expect(e).toMatchObject({ status: 'CANCELED', admittedAt: null, reason: 'outside-window', reasonDetails: { opensAt: null }, statusDetails: { reason: 'ScheduleEnded' } });
    }
    // What was running finishes; then the job is complete.
    expect((await jobDetail(baton, 'fw-end')).status).toBe('IN_PROGRESS');
    await devices.get(canary!)!.request('fw-end/update', { status: 'SUCCEEDED' });
    await jobStatus(baton, 'fw-end', 'COMPLETED');
  });
});
