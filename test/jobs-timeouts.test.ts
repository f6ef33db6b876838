import { describe, expect, it } from 'vitest';
import { customJob, executions, jobDetail, jobStatus, jobsDevice } from './helpers/jobs.js';
import { eventually, startBaton } from './helpers/service.js';

const T0 = Date.parse('2026-06-01T00:00:00Z');
/** Enough real time for several 20 ms ticks to have looked at the moved clock. */
const ticks = () => new Promise((r) => setTimeout(r, 200));

describe('job timeouts and retries (fake clock)', () => {
  it('times out on the step timer the device restarts, retries, then on the in-progress timer', async () => {
    let now = T0;
    const baton = await startBaton({ jobsTickMs: 20 }, { clock: () => now });
    const device = await jobsDevice(baton, 'dev-1');
    await customJob(baton, 'job-1', ['dev-1'], { timeouts: { inProgressS: 3600 }, retries: [{ failureType: 'TIMED_OUT', maxAttempts: 2 }] });
    await device.notified(1);
    expect((await device.request('start-next', { stepTimeoutS: 60 })).body.execution.status).toBe('IN_PROGRESS');

    now = T0 + 50_000;
    expect((await device.request('job-1/update', { status: 'IN_PROGRESS', stepTimeoutS: 60 })).outcome).toBe('accepted');
    now = T0 + 100_000; // past the first step deadline, not the restarted one
    await ticks();
    expect((await executions(baton, 'job-1'))[0]).toMatchObject({ status: 'IN_PROGRESS', executionNumber: 1 });

    now = T0 + 110_000;
    const retried = await eventually(async () => {
      const [e] = await executions(baton, 'job-1');
      return e.executionNumber === 2 ? e : undefined;
    });
    expect(retried).toMatchObject({ status: 'QUEUED', statusDetails: { reason: 'StepTimeout' }, startedAt: null });
    expect((await device.notified(2)).execution).toMatchObject({ jobId: 'job-1', status: 'QUEUED', executionNumber: 2 });
    const late = await device.request('job-1/update', { status: 'SUCCEEDED', expectedVersion: 3 });
    expect(late.body).toMatchObject({ code: 'VersionMismatch', executionState: { status: 'QUEUED', versionNumber: 5 } });

    expect((await device.request('start-next')).body.execution).toMatchObject({ status: 'IN_PROGRESS', executionNumber: 2 });
    now += 3_600_000;
    await jobStatus(baton, 'job-1', 'COMPLETED');
    expect((await executions(baton, 'job-1'))[0]).toMatchObject({ status: 'TIMED_OUT', executionNumber: 2, statusDetails: { reason: 'InProgressTimeout' } });
    expect((await jobDetail(baton, 'job-1')).counts).toMatchObject({ TIMED_OUT: 1, QUEUED: 0, IN_PROGRESS: 0 });
    expect((await device.request('job-1/update', { status: 'SUCCEEDED' })).body.code).toBe('TerminalState');
  });

  it('retries FAILED up to its maxAttempts, and not REJECTED', async () => {
    const baton = await startBaton();
    const device = await jobsDevice(baton, 'dev-1');
    await baton.createDevice('dev-2');
    const retries = [{ failureType: 'FAILED', maxAttempts: 2 }];
    await customJob(baton, 'job-1', ['dev-1'], { retries });
    await device.notified(1);
    const attempt = async () => {
      await device.request('start-next');
      return (await device.request('job-1/update', { status: 'FAILED', statusDetails: { reason: 'DiskFull' } })).body.executionState;
    };
    expect(await attempt()).toMatchObject({ status: 'FAILED', versionNumber: 3 });
    expect((await executions(baton, 'job-1'))[0]).toMatchObject({ status: 'QUEUED', executionNumber: 2, versionNumber: 4, reason: 'notified' });
    expect(await attempt()).toMatchObject({ status: 'FAILED', versionNumber: 6 });
    expect((await executions(baton, 'job-1'))[0]).toMatchObject({ status: 'FAILED', executionNumber: 2 });
    await jobStatus(baton, 'job-1', 'COMPLETED');

    await customJob(baton, 'job-2', ['dev-1'], { retries });
    await eventually(() => device.notifications.find((n) => n.execution?.jobId === 'job-2'));
    await device.request('job-2/update', { status: 'REJECTED' });
    expect((await executions(baton, 'job-2'))[0]).toMatchObject({ status: 'REJECTED', executionNumber: 1 });
  });
});
