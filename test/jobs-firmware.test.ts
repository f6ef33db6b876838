import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, type DeviceClient } from '../device-sdk/index.js';
import { attachJobs, type Jobs, type JobsOptions } from '../device-sdk/jobs.js';
import type { FeatureContext } from '../broker/feature.js';
import { jobsFirmwareHooks } from '../broker/jobs/firmware.js';
import { randomImage, tempDir, trustedKeys, uploadImage } from './helpers/firmware.js';
import { createJob, executions, jobDetail, jobStatus, jobsDevice } from './helpers/jobs.js';
import { eventually, startBaton, type TestBaton } from './helpers/service.js';

async function withFirmware(baton: TestBaton, size = 16 * 1024) {
  const image = randomImage(size);
  const res = await uploadImage(baton, image, { deviceClass: 'sensor', version: '2.0.0', chunkSize: 1024 });
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${JSON.stringify(res.body)}`);
  return { image, firmwareId: res.body.id as string };
}

const firmwareJob = (firmwareId: string, targets: object, extra: object = {}) =>
  ({ id: 'fw-1', type: 'firmware', firmwareId, targets, rollout: { maxPerMinute: 60_000 }, ...extra });

/** A device process: an SDK client, its jobs loop, and its files (which outlive a "reboot"). */
async function deviceProcess(baton: TestBaton, id: string, secret: string, dir: string, running: string, options: Partial<JobsOptions> = {}) {
  const client: DeviceClient = await connect({ url: baton.mqttUrl, deviceId: id, secret });
  const jobs: Jobs = attachJobs(client, {
    trustedKeys: await trustedKeys(baton),
    firmwareVersion: () => running,
    stateFile: join(dir, 'jobs-state.json'),
    firmware: { deviceClass: 'sensor', freeBytes: 1 << 30, statePath: join(dir, 'firmware-state.json'), dir: join(dir, 'slot') },
    ...options,
  });
  return { client, jobs, stop: async () => (await jobs.close(), await client.close()) };
}

describe('firmware jobs', () => {
  it("target only the firmware's device class and report the others as incompatible", async () => {
    const baton = await startBaton();
    const { firmwareId } = await withFirmware(baton);
    for (const [id, deviceClass] of [['s1', 'sensor'], ['s2', 'sensor'], ['v1', 'valve'], ['x1', undefined]] as const) {
      await baton.createDevice(id, deviceClass ? { deviceClass } : {});
    }
    await createJob(baton, firmwareJob(firmwareId, { query: {} }));
    expect((await executions(baton, 'fw-1')).map((e) => e.deviceId)).toEqual(['s1', 's2']);
    const detail = await jobDetail(baton, 'fw-1');
    expect(detail).toMatchObject({ firmwareId, firmware: { id: firmwareId, deviceClass: 'sensor', version: '2.0.0', size: 16 * 1024 }, bytesDelivered: 0 });
    expect(detail.incompatible).toEqual({ total: 2, devices: [{ deviceId: 'v1', deviceClass: 'valve' }, { deviceId: 'x1', deviceClass: null }] });
  });

  it('reconciles after a reboot: into the new version → SUCCEEDED, into the old → FAILED with the reason', async () => {
    const baton = await startBaton();
    const { firmwareId } = await withFirmware(baton);
    const [good, bad, flaky] = [await jobsDevice(baton, 's1', { deviceClass: 'sensor' }), await jobsDevice(baton, 's2', { deviceClass: 'sensor' }), await jobsDevice(baton, 's3', { deviceClass: 'sensor' })];
    await createJob(baton, firmwareJob(firmwareId, { deviceClass: 'sensor' }));
    for (const d of [good, bad, flaky]) {
      expect((await d.request('start-next')).body.execution.jobDocument).toMatchObject({ type: 'firmware', firmwareId, version: '2.0.0', manifest: expect.any(String) });
    }
    const newVersion = await good.request('reconcile', { firmwareVersion: '2.0.0', jobId: 'fw-1', status: 'IN_PROGRESS' });
    expect(newVersion.body.decisions).toEqual([{ jobId: 'fw-1', action: 'SUCCEEDED', reason: 'TargetVersionRunning', executionState: expect.objectContaining({ status: 'SUCCEEDED' }) }]);
    const oldVersion = await bad.request('reconcile', { firmwareVersion: '1.0.0', jobId: 'fw-1', status: 'IN_PROGRESS' });
    expect(oldVersion.body.decisions[0]).toMatchObject({ action: 'FAILED', reason: 'RebootedIntoOldVersion', executionState: { status: 'FAILED', statusDetails: { reason: 'RebootedIntoOldVersion', firmwareVersion: '1.0.0', expectedVersion: '2.0.0' } } });
    // A link that merely dropped mid-download names no job: nothing is failed.
    expect((await flaky.request('reconcile', { firmwareVersion: '1.0.0' })).body.decisions).toEqual([]);
    expect((await executions(baton, 'fw-1')).map((e) => [e.deviceId, e.status])).toEqual([['s1', 'SUCCEEDED'], ['s2', 'FAILED'], ['s3', 'IN_PROGRESS']]);
  });

  it("answers the firmware feature's hooks: in use while a job is not finished, fetchable while an execution runs", async () => {
    const baton = await startBaton();
    const { firmwareId } = await withFirmware(baton);
    const hooks = jobsFirmwareHooks(baton.service.rollouts)({ store: baton.service.store } as FeatureContext);
    const [s1, s2] = [await jobsDevice(baton, 's1', { deviceClass: 'sensor' }), await jobsDevice(baton, 's2', { deviceClass: 'sensor' })];
    await baton.createDevice('s3', { deviceClass: 'sensor' });
    expect(await hooks.firmwareInUse(firmwareId)).toBe(false);
    await createJob(baton, firmwareJob(firmwareId, { devices: ['s1', 's2'] }));
    expect(await hooks.firmwareInUse(firmwareId)).toBe(true);
    await s1.request('start-next');
    await s2.request('start-next');
    await s2.request('fw-1/update', { status: 'SUCCEEDED' });
    expect([await hooks.mayFetch('s1', firmwareId), await hooks.mayFetch('s2', firmwareId), await hooks.mayFetch('s3', firmwareId)]).toEqual([true, false, false]);
    await baton.api('POST', '/api/v1/jobs/fw-1/cancel', { force: true });
    expect([await hooks.firmwareInUse(firmwareId), await hooks.mayFetch('s1', firmwareId)]).toEqual([false, false]);
  });

  it('end to end: 50 SDK devices download, install, reboot and reconcile, from upload to SUCCEEDED', { timeout: 120_000 }, async () => {
    const baton = await startBaton();
    const { image, firmwareId } = await withFirmware(baton, 32 * 1024);
    const devices = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const id = `s-${String(i).padStart(2, '0')}`;
      const { secret } = await baton.createDevice(id, { deviceClass: 'sensor' });
      return { id, secret, dir: tempDir('baton-jobs-') };
    }));
    const installed = new Map<string, Buffer>();
    const boot = (d: (typeof devices)[number], running: string) =>
      deviceProcess(baton, d.id, d.secret, d.dir, running).then((p) => {
        p.jobs.handle('firmware', async ({ download, progress }) => {
          await progress({ percent: 0 }, { step: 'download' });
          const { path } = await download();
          installed.set(d.id, await readFile(path));
          return { reboot: true };
        });
        return p;
      });
    const first = await Promise.all(devices.map((d) => boot(d, '1.0.0')));
    await createJob(baton, firmwareJob(firmwareId, { deviceClass: 'sensor' }, { timeouts: { inProgressS: 600 } }));
    await eventually(() => (installed.size === 50 ? true : undefined), 60_000);
    // Every handler asked for a reboot: the executions wait in IN_PROGRESS until the devices come back.
    await eventually(async () => ((await jobDetail(baton, 'fw-1')).counts.IN_PROGRESS === 50 ? true : undefined), 10_000);
    await Promise.all(first.map((p) => p.stop()));
    const second = await Promise.all(devices.map((d) => boot(d, '2.0.0')));
    await jobStatus(baton, 'fw-1', 'COMPLETED');
    expect((await jobDetail(baton, 'fw-1')).counts).toMatchObject({ SUCCEEDED: 50, FAILED: 0, IN_PROGRESS: 0 });
    expect([...installed.values()].every((b) => b.equals(image))).toBe(true);
    await Promise.all(second.map((p) => p.stop()));
  });
});
