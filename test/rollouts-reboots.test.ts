/**
 * Reboots against the health gate (a fake clock): updated devices that come back on the old
 * version, or whose health reports show a crash loop, during the soak fail their wave, while the
 * devices still on the old firmware went through the same link blip. Real broker, real MQTT
 * clients speaking the device protocol.
 */
import { describe, expect, it } from 'vitest';
import { topics } from '../device-sdk/protocol/topics.js';
import { createJob, jobDetail, jobsClient, jobsDevice, jobStatus, type JobsDevice } from './helpers/jobs.js';
import { admittedCount, allExecutions, firmwareFor, rolloutEvents } from './helpers/rollouts.js';
import { eventually, startBaton, type TestBaton } from './helpers/service.js';

const T0 = Date.parse('2026-06-01T00:00:00Z');
const IDS = ['d1', 'd2', 'd3', 'd4', 'd5', 'd6'];
/** Reported by every device, so no one goes stale however far the clock jumps here. */
const INTERVAL_S = 3600;

const report = (device: JobsDevice, health: object) =>
  device.client.publishAsync(topics.health(device.id), JSON.stringify({ intervalS: INTERVAL_S, ...health }), { qos: 1 });

/** The device's connection drops and comes back (a reboot, or a link blip); it reports its health at once, as the SDK does. */
async function reconnect(baton: TestBaton, device: JobsDevice, health: object): Promise<JobsDevice> {
  await device.client.endAsync();
  await eventually(async () => ((await baton.api('GET', `/api/v1/devices/${device.id}`)).body.status === 'offline' ? true : undefined));
  const again = await jobsClient(await baton.connectDevice(device), device);
  await report(again, health);
  return again;
}

/** Six sensors, a firmware for them, and a rollout with a canary of two and a 600 s soak (health gating on). */
async function canaryRollout(jobId: string, health: object) {
  let now = T0;
  const baton = await startBaton({ jobsTickMs: 20 }, { clock: () => now });
  const firmwareId = await firmwareFor(baton); // version 2.0.0
  const devices = new Map<string, JobsDevice>();
  for (const id of IDS) {
    const device = await jobsDevice(baton, id, { deviceClass: 'sensor' });
    await report(device, health);
    devices.set(id, device);
  }
  const events = await rolloutEvents(baton, jobId);
  await createJob(baton, { id: jobId, type: 'firmware', firmwareId, targets: { deviceClass: 'sensor' }, rollout: { canary: { count: 2 }, soakS: 600 } });
  const canary = await admittedCount(baton, jobId, 2);
  const control = IDS.filter((id) => !canary.includes(id));
  return { baton, devices, events, canary, control, setTime: (t: number) => void (now = t) };
}

/** The soak ends: the wave failed on reboots alone, the job is aborted and the next wave never starts. */
async function expectFailedOnReboots(run: Awaited<ReturnType<typeof canaryRollout>>, jobId: string, updated: number) {
  const stopped = await run.events.next('stopped');
  expect(stopped).toMatchObject({ phase: 'aborted', cause: { kind: 'health', wave: 0, regressions: [{ metric: 'rebootsPerDevice', updated, baseline: 0 }] } });
  expect(stopped.cause.regressions).toHaveLength(1);
  await jobStatus(run.baton, jobId, 'ABORTED');
  expect((await jobDetail(run.baton, jobId)).reason).toBe('wave 0 regressed health: rebootsPerDevice');
  const executions = await allExecutions(run.baton, jobId);
  expect(executions.filter((e) => run.control.includes(e.deviceId)).map((e) => [e.status, e.admittedAt])).toEqual(run.control.map(() => ['CANCELED', null]));
  expect(executions.filter((e) => run.canary.includes(e.deviceId)).map((e) => e.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  expect(run.events.events.filter((e) => e.event === 'wave-released').map((e) => e.wave)).toEqual([0]);
}

describe('staged rollouts: reboots count against the health gate', () => {
  it('fails a wave whose updated device comes back on the old version during the soak', async () => {
    const run = await canaryRollout('fw-fallback', {});
    const [fellBack, kept] = run.canary as [string, string];
    for (const id of run.canary) await run.devices.get(id)!.request('fw-fallback/update', { status: 'SUCCEEDED' });
    expect(await run.events.next('wave-passed', (e) => e.wave === 0)).toMatchObject({ soakUntil: new Date(T0 + 600_000).toISOString() });

    // A minute into the soak every device's link blips (so reconnects are alike on both sides).
    // Each reconciles with the firmware it runs: one updated device fell back to 1.0.0.
    run.setTime(T0 + 60_000);
    for (const id of IDS) {
      const device = await reconnect(run.baton, run.devices.get(id)!, {});
      const reply = await device.request('reconcile', { firmwareVersion: id === kept ? '2.0.0' : '1.0.0' });
      // Its execution is final: reconcile changes nothing, the rollout takes note.
      expect(reply.body.decisions).toEqual([]);
    }
    expect((await allExecutions(run.baton, 'fw-fallback')).find((e) => e.deviceId === fellBack)?.status).toBe('SUCCEEDED');

    run.setTime(T0 + 601_000); // the soak is over
    await expectFailedOnReboots(run, 'fw-fallback', 0.5);
  });

  it('fails a wave whose updated device reports a crash loop in its health (bootCount), not for the boot that installed the update', async () => {
    const run = await canaryRollout('fw-crash', { bootCount: 5, uptimeS: 1000 });
    const [looping, steady] = run.canary as [string, string];
    // The canary installs and reboots into the new version, then reports success: that boot came
    // before the soak began, so it does not count.
    run.setTime(T0 + 60_000);
    for (const id of run.canary) {
      const device = await reconnect(run.baton, run.devices.get(id)!, { bootCount: 6, uptimeS: 3 });
      run.devices.set(id, device);
      await device.request('fw-crash/update', { status: 'SUCCEEDED' });
    }
    expect(await run.events.next('wave-passed', (e) => e.wave === 0)).toMatchObject({ soakUntil: new Date(T0 + 660_000).toISOString() });

    // A minute into the soak every device's link blips. One updated device crashed three times
    // before its link came back: its first report after reconnecting says so.
    run.setTime(T0 + 120_000);
    for (const id of IDS) {
      const health = id === looping ? { bootCount: 9, uptimeS: 4 } : id === steady ? { bootCount: 6, uptimeS: 63 } : { bootCount: 5, uptimeS: 1120 };
      await reconnect(run.baton, run.devices.get(id)!, health);
    }

    run.setTime(T0 + 661_000); // the soak is over
    await expectFailedOnReboots(run, 'fw-crash', 1.5);
  });
});
