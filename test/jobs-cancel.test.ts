import { describe, expect, it } from 'vitest';
import { customJob, executions, jobDetail, jobStatus, jobsDevice } from './helpers/jobs.js';
import { eventually, startBaton } from './helpers/service.js';

describe('cancel, force-cancel, pause and resume', () => {
  it('cancel stops queued executions and lets the one in progress finish; force cancels it too', async () => {
    const baton = await startBaton();
    const busy = await jobsDevice(baton, 'busy');
    const idle = await jobsDevice(baton, 'idle');
    await customJob(baton, 'job-1', ['busy', 'idle']);
    await busy.notified(1);
    await busy.request('start-next');

    const canceled = await baton.api('POST', '/api/v1/jobs/job-1/cancel', { reason: 'wrong build' });
    expect(canceled.body).toMatchObject({ status: 'CANCELED', reason: 'wrong build', forceCanceled: false });
    expect((await executions(baton, 'job-1')).map((e) => [e.deviceId, e.status])).toEqual([['busy', 'IN_PROGRESS'], ['idle', 'CANCELED']]);
    expect((await idle.notified(2)).execution).toBeNull();
    expect((await idle.request('job-1/update', { status: 'IN_PROGRESS' })).body.code).toBe('TerminalState');
    // The one in progress may still report.
    expect((await busy.request('job-1/update', { status: 'IN_PROGRESS', progress: { percent: 10 } })).outcome).toBe('accepted');

    const forced = await baton.api('POST', '/api/v1/jobs/job-1/cancel', { force: true });
    expect(forced.body).toMatchObject({ status: 'CANCELED', reason: 'wrong build', forceCanceled: true });
    expect((await busy.notified(2)).execution).toBeNull();
    const late = await busy.request('job-1/update', { status: 'SUCCEEDED' });
    expect(late.body).toMatchObject({ code: 'TerminalState', executionState: { status: 'CANCELED' } });
    expect((await jobDetail(baton, 'job-1')).counts).toMatchObject({ CANCELED: 2, IN_PROGRESS: 0, QUEUED: 0 });
  });

  it('refuses what does not apply, with codes', async () => {
    const baton = await startBaton();
    const device = await jobsDevice(baton, 'dev-1');
    await customJob(baton, 'job-1', ['dev-1']);
    await device.notified(1);
    await device.request('job-1/update', { status: 'SUCCEEDED' });
    await jobStatus(baton, 'job-1', 'COMPLETED');
    const code = async (path: string, body?: object) => {
      const res = await baton.api('POST', path, body);
      return [res.status, res.body.code];
    };
    expect(await code('/api/v1/jobs/job-1/cancel', { force: true })).toEqual([409, 'TerminalState']);
    expect(await code('/api/v1/jobs/job-1/pause')).toEqual([409, 'TerminalState']);
    expect(await code('/api/v1/jobs/nope/cancel')).toEqual([404, 'NotFound']); // the body is optional
    await customJob(baton, 'job-2', ['dev-1']);
    expect(await code('/api/v1/jobs/job-2/resume')).toEqual([409, 'InvalidStateTransition']);
    expect(await code('/api/v1/jobs', { id: 'job-2', type: 'custom', document: {}, targets: { devices: ['dev-1'] } })).toEqual([409, 'Conflict']);
    expect(await code('/api/v1/jobs', { type: 'custom', targets: { devices: ['dev-1'] } })).toEqual([400, 'InvalidRequest']);
    expect(await code('/api/v1/jobs', { type: 'custom', document: {}, targets: {} })).toEqual([400, 'InvalidRequest']);
    expect(await code('/api/v1/jobs', { type: 'config', config: {}, document: {}, targets: { devices: ['dev-1'] } })).toEqual([400, 'InvalidRequest']);
    expect(await code('/api/v1/jobs', { type: 'firmware', firmwareId: 'nope', targets: { devices: ['dev-1'] } })).toEqual([400, 'InvalidRequest']);
    expect(await code('/api/v1/jobs', { id: 'get', type: 'custom', document: {}, targets: { devices: ['dev-1'] } })).toEqual([400, 'InvalidRequest']);
    expect(await code('/api/v1/jobs', { type: 'custom', document: {}, targets: { devices: ['dev-1'] }, schedule: { windows: [{ cron: 'nope', durationMin: 5 }] } })).toEqual([400, 'InvalidRequest']);
    expect(await code('/api/v1/jobs', { type: 'custom', document: {}, targets: { devices: ['dev-1'] }, retries: [{ failureType: 'REJECTED', maxAttempts: 2 }] })).toEqual([400, 'InvalidRequest']);
    const viewer = await baton.api('POST', '/api/v1/tokens', { name: 'v', role: 'viewer' });
    expect((await baton.api('POST', '/api/v1/jobs/job-2/cancel', {}, viewer.body.token)).status).toBe(403);
  });

  it('pause stops admission; resume admits again (fake clock)', async () => {
    let now = Date.parse('2026-06-01T00:00:00Z');
    const baton = await startBaton({ jobsTickMs: 20 }, { clock: () => now });
    const devices = await Promise.all(['d1', 'd2', 'd3', 'd4'].map((id) => jobsDevice(baton, id)));
    const waiting = async () => (await jobDetail(baton, 'job-1')).counts.waiting;
    // Two a minute: one at once (the bucket's depth), then one every 30 s.
    await customJob(baton, 'job-1', devices.map((d) => d.id), { rollout: { maxPerMinute: 2 } });
    expect(await waiting()).toBe(3);
    expect((await jobDetail(baton, 'job-1')).rate).toEqual({ maxPerMinute: 2, maxConcurrent: null });
    now += 30_000;
    await eventually(async () => ((await waiting()) === 2 ? true : undefined));
    expect((await executions(baton, 'job-1')).map((e) => e.reason)).toEqual(['notified', 'notified', 'waiting', 'waiting']);

    expect((await baton.api('POST', '/api/v1/jobs/job-1/pause')).body.status).toBe('PAUSED');
    now += 60_000;
    await new Promise((r) => setTimeout(r, 200)); // ticks pass; nothing is admitted
    expect(await waiting()).toBe(2);
    // What was admitted may still run while paused.
    expect((await devices[0]!.request('start-next')).body.execution.jobId).toBe('job-1');

    expect((await baton.api('POST', '/api/v1/jobs/job-1/resume')).body.status).toBe('IN_PROGRESS');
    expect(await waiting()).toBe(1);
    expect((await devices[2]!.notified(1)).execution).toMatchObject({ jobId: 'job-1', status: 'QUEUED' });
  });
});
