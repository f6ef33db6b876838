/**
 * Devices leaving a continuous job's targets (re-tagged, moved to another site or class with
 * PATCH /devices/{id}): a queued execution becomes REMOVED (`LeftTargets`) and its device is told
 * on notify-next; one in progress finishes; a device that matches again comes back as a new
 * attempt; a removed execution holds no admission slot. Real broker, real mqtt.js devices, REST.
 */
import { describe, expect, it } from 'vitest';
import { createJob, executions, jobDetail, jobsClient, jobsDevice, type JobsDevice } from './helpers/jobs.js';
import { eventually, startBaton, type TestBaton } from './helpers/service.js';

const beta = { id: 'job-1', type: 'custom', document: { op: 'calibrate' }, targets: { tags: ['beta'] }, continuous: true, rollout: { maxPerMinute: 60_000 } };

const statusOf = async (baton: TestBaton, deviceId: string) => (await executions(baton, 'job-1')).find((e) => e.deviceId === deviceId);
const untilStatus = (baton: TestBaton, deviceId: string, status: string) =>
  eventually(async () => {
    const e = await statusOf(baton, deviceId);
    return e?.status === status ? e : undefined;
  });
const patch = async (baton: TestBaton, id: string, body: object) => expect((await baton.api('PATCH', `/api/v1/devices/${id}`, body)).status).toBe(200);
/** The device's latest notify-next, once it names `jobId` (or null for none). */
const toldNext = (device: JobsDevice, jobId: string | null) =>
  eventually(() => {
    const last = device.notifications.at(-1);
    return last !== undefined && (last.execution?.jobId ?? null) === jobId ? last : undefined;
  });

describe('continuous jobs: devices that leave their targets', () => {
  it('a queued execution is REMOVED and its device told; one in progress finishes; a device that comes back gets a new attempt', async () => {
    const baton = await startBaton({ jobsTickMs: 20 });
    const queued = await jobsDevice(baton, 'dev-1', { tags: ['beta'] });
    const running = await jobsDevice(baton, 'dev-2', { tags: ['beta'] });
    await createJob(baton, beta);
    await toldNext(queued, 'job-1');
    expect((await running.request('start-next')).body.execution).toMatchObject({ jobId: 'job-1', status: 'IN_PROGRESS' });

    await patch(baton, 'dev-1', { tags: ['alpha'] });
    await patch(baton, 'dev-2', { tags: ['alpha'] });
    expect(await untilStatus(baton, 'dev-1', 'REMOVED')).toMatchObject({ statusDetails: { reason: 'LeftTargets' }, executionNumber: 1 });
    await toldNext(queued, null);
    const late = await queued.request('job-1/update', { status: 'IN_PROGRESS' });
    expect(late).toMatchObject({ outcome: 'rejected', body: { code: 'TerminalState', executionState: { status: 'REMOVED' } } });

    // Several rescans later the started one is still running, and the device may finish it.
    await new Promise((r) => setTimeout(r, 300));
    expect((await statusOf(baton, 'dev-2'))?.status).toBe('IN_PROGRESS');
    expect((await running.request('job-1/update', { status: 'SUCCEEDED' })).outcome).toBe('accepted');

    await patch(baton, 'dev-1', { tags: ['alpha', 'beta'] });
    expect(await untilStatus(baton, 'dev-1', 'QUEUED')).toMatchObject({ executionNumber: 2, statusDetails: null });
    expect((await toldNext(queued, 'job-1')).execution).toMatchObject({ status: 'QUEUED', executionNumber: 2 });
    expect((await queued.request('job-1/update', { status: 'SUCCEEDED' })).outcome).toBe('accepted');
    expect((await jobDetail(baton, 'job-1'))).toMatchObject({ status: 'IN_PROGRESS', counts: { SUCCEEDED: 2, REMOVED: 0, QUEUED: 0 } });
  });

  it('a removed execution holds no admission slot: moving a device to another site admits the next one', async () => {
    const baton = await startBaton({ jobsTickMs: 20 });
    for (const site of ['north', 'south']) expect((await baton.api('POST', '/api/v1/sites', { id: site, uplinkBytesPerSec: 1_000_000 })).status).toBe(201);
    const first = await jobsDevice(baton, 'dev-1', { site: 'north' });
    const second = await jobsDevice(baton, 'dev-2', { site: 'north' });
    await createJob(baton, { ...beta, targets: { sites: ['north'] }, rollout: { maxPerMinute: 60_000, maxConcurrent: 1 } });
    const admitted = (await eventually(async () => {
      const items = await executions(baton, 'job-1');
      return items.filter((e) => e.admittedAt !== null).length === 1 ? items : undefined;
    })).find((e) => e.admittedAt !== null)!.deviceId as string;
    const [holder, waiter] = admitted === 'dev-1' ? [first, second] : [second, first];

    await patch(baton, holder.id, { site: 'south' });
    expect(await untilStatus(baton, holder.id, 'REMOVED')).toMatchObject({ statusDetails: { reason: 'LeftTargets' } });
    await toldNext(waiter, 'job-1');
    expect(await jobDetail(baton, 'job-1')).toMatchObject({ status: 'IN_PROGRESS', counts: { REMOVED: 1, QUEUED: 1, waiting: 0 } });
  });

  it('a device re-classed while offline leaves before its queue is sent on connect', async () => {
    const baton = await startBaton({ jobsTickMs: 60_000 }); // no rescan during the test: only the connect decides
    const device = await baton.createDevice('dev-1', { deviceClass: 'pump' });
    await createJob(baton, { ...beta, targets: { deviceClass: 'pump' } });
    await untilStatus(baton, 'dev-1', 'QUEUED');
    await patch(baton, 'dev-1', { deviceClass: 'valve' });

    const client = await baton.connectDevice(device);
    const jobs = await jobsClient(client, device);
    expect((await jobs.request('get')).body).toMatchObject({ queuedJobs: [], inProgressJobs: [] });
    expect(await statusOf(baton, 'dev-1')).toMatchObject({ status: 'REMOVED', statusDetails: { reason: 'LeftTargets' } });
  });
});
