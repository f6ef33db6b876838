import { describe, expect, it } from 'vitest';
import { createJob, customJob, executions, jobDetail, jobsClient, jobsDevice, type JobsDevice } from './helpers/jobs.js';
import { eventually, startBaton, type TestBaton } from './helpers/service.js';

const T0 = Date.parse('2026-06-01T00:00:00Z');

/** Everything the admin API says about every job. */
async function snapshot(baton: TestBaton) {
  const jobs = (await baton.api('GET', '/api/v1/jobs?limit=100')).body.items as any[];
  const details = await Promise.all(jobs.map((j) => jobDetail(baton, j.id)));
  const execs = await Promise.all(jobs.map((j) => executions(baton, j.id)));
  return { jobs, details, execs };
}

describe('jobs across a restart', () => {
  it('keeps jobs in every state and executions in every status, timers included', async () => {
    let now = T0;
    const baton = await startBaton({ jobsTickMs: 20 }, { clock: () => now });
    const ids = ['d1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7'];
    const devices: Record<string, JobsDevice> = {};
    for (const id of ids) devices[id] = await jobsDevice(baton, id);
    const d = (id: string) => devices[id]!;

    await customJob(baton, 'job-run', ids);
    await eventually(async () => ((await jobDetail(baton, 'job-run')).counts.waiting === 0 ? true : undefined));
    await d('d1').request('start-next', { stepTimeoutS: 600 });
    await d('d1').request('job-run/update', { status: 'IN_PROGRESS', progress: { bytes: 400, totalBytes: 1000, percent: 40 }, statusDetails: { step: 'flash' } });
    await d('d2').request('job-run/update', { status: 'SUCCEEDED' });
    await d('d3').request('job-run/update', { status: 'FAILED', statusDetails: { reason: 'Disk' } });
    await d('d4').request('job-run/update', { status: 'REJECTED' });
    await d('d5').request('start-next', { stepTimeoutS: 10 });
    now += 11_000;
    await baton.api('DELETE', '/api/v1/devices/d7');
    await eventually(async () => {
      const statuses = (await executions(baton, 'job-run')).map((e) => e.status);
      return statuses.includes('TIMED_OUT') && statuses.includes('REMOVED') ? statuses : undefined;
    });

    await customJob(baton, 'job-done', ['d2']);
    await eventually(() => d('d2').notifications.find((n) => n.execution?.jobId === 'job-done'));
    await d('d2').request('job-done/update', { status: 'SUCCEEDED' });
    await customJob(baton, 'job-paused', ['d6']);
    await baton.api('POST', '/api/v1/jobs/job-paused/pause');
    await customJob(baton, 'job-canceled', ['d6']);
    await baton.api('POST', '/api/v1/jobs/job-canceled/cancel', { reason: 'test' });
    await customJob(baton, 'job-scheduled', ['d6'], { schedule: { startAt: new Date(T0 + 86_400_000).toISOString() } });
    await createJob(baton, { id: 'job-config', type: 'config', config: { hz: 5 }, targets: { devices: ['d6'] }, timeouts: { inProgressS: 60 }, retries: [{ failureType: 'FAILED', maxAttempts: 3 }] });
    await eventually(async () => ((await jobDetail(baton, 'job-done')).status === 'COMPLETED' ? true : undefined));

    const before = await snapshot(baton);
    expect(before.jobs.map((j) => [j.id, j.status])).toEqual([
      ['job-run', 'IN_PROGRESS'], ['job-done', 'COMPLETED'], ['job-paused', 'PAUSED'],
      ['job-canceled', 'CANCELED'], ['job-scheduled', 'SCHEDULED'], ['job-config', 'IN_PROGRESS'],
    ]);
    expect(before.execs[0]!.map((e: any) => [e.deviceId, e.status])).toEqual([
      ['d1', 'IN_PROGRESS'], ['d2', 'SUCCEEDED'], ['d3', 'FAILED'], ['d4', 'REJECTED'], ['d5', 'TIMED_OUT'], ['d6', 'QUEUED'], ['d7', 'REMOVED'],
    ]);
    const queueBefore = (await d('d6').request('get')).body;

    const again = await baton.restart();
    expect(await snapshot(again)).toEqual(before);
    const d1 = await jobsClient(await again.connectDevice(d('d1')), d('d1'));
    const d6 = await jobsClient(await again.connectDevice(d('d6')), d('d6'));
    const { timestamp: _t, clientToken: _c, ...queueAfter } = (await d6.request('get')).body;
    expect(queueAfter).toEqual({ inProgressJobs: queueBefore.inProgressJobs, queuedJobs: queueBefore.queuedJobs });

    // Work goes on where it was: versions, the step timer, the schedule.
    const running = before.execs[0]![0];
    expect((await d1.request('job-run/update', { status: 'IN_PROGRESS', expectedVersion: running.versionNumber })).outcome).toBe('accepted');
    now += 600_000;
    await eventually(async () => ((await executions(again, 'job-run'))[0].status === 'TIMED_OUT' ? true : undefined));
    now = T0 + 86_400_000;
    await eventually(async () => ((await jobDetail(again, 'job-scheduled')).status === 'IN_PROGRESS' ? true : undefined));
    await eventually(async () => ((await d6.request('get')).body.queuedJobs.some((j: any) => j.jobId === 'job-scheduled') ? true : undefined));
  });
});
