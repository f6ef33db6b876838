import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { customJob, jobDetail, jobStatus, jobsClient, jobsDevice } from './helpers/jobs.js';
import { ADMIN_TOKEN, eventually, nextMessage, startBaton, subscribeGranted, whenClosed } from './helpers/service.js';

describe('jobs over MQTT', () => {
  it('notifies, lists, starts, updates and completes a job; integrations see every change', async () => {
    const baton = await startBaton();
    const device = await jobsDevice(baton, 'dev-1');
    const watcher = await baton.connect({ clientId: 'int', username: 'api', password: ADMIN_TOKEN });
    await watcher.subscribeAsync('fleet/events/#', { qos: 1 });
    const events: any[] = [];
    watcher.on('message', (topic, payload) => events.push([topic, JSON.parse(payload.toString())]));

    await customJob(baton, 'job-1', ['dev-1'], { description: 'reboot it' });
    const notified = await device.notified(1);
    expect(notified.execution).toMatchObject({ jobId: 'job-1', deviceId: 'dev-1', status: 'QUEUED', versionNumber: 1, executionNumber: 1, jobDocument: { type: 'custom', document: { op: 'reboot' } } });

    const get = await device.request('get');
    expect(get.outcome).toBe('accepted');
    expect(get.body).toMatchObject({ inProgressJobs: [], queuedJobs: [{ jobId: 'job-1', status: 'QUEUED', versionNumber: 1 }], clientToken: expect.any(String) });

    const started = await device.request('start-next', { statusDetails: { step: 'begin' }, stepTimeoutS: 60 });
    expect(started.body.execution).toMatchObject({ jobId: 'job-1', status: 'IN_PROGRESS', versionNumber: 2, statusDetails: { step: 'begin' }, jobDocument: { type: 'custom' } });
    expect((await device.request('start-next')).body.execution).toMatchObject({ jobId: 'job-1', status: 'IN_PROGRESS', versionNumber: 2 });

    const progress = await device.request('job-1/update', { status: 'IN_PROGRESS', progress: { percent: 50 }, expectedVersion: 2 });
    expect(progress).toMatchObject({ outcome: 'accepted', body: { executionState: { status: 'IN_PROGRESS', versionNumber: 3 } } });
    const done = await device.request('job-1/update', { status: 'SUCCEEDED', statusDetails: { ok: true } });
    expect(done.body.executionState).toEqual({ status: 'SUCCEEDED', statusDetails: { ok: true }, versionNumber: 4 });
    expect((await device.request('job-1/get')).body.execution).toMatchObject({ status: 'SUCCEEDED', progress: { percent: 50 } });

    await jobStatus(baton, 'job-1', 'COMPLETED');
    expect((await jobDetail(baton, 'job-1')).counts).toMatchObject({ SUCCEEDED: 1, QUEUED: 0, IN_PROGRESS: 0, waiting: 0 });
    expect((await device.notified(2)).execution).toBeNull();
    await eventually(() => (events.length >= 5 ? true : undefined));
    expect(events.filter(([t]) => t === 'fleet/events/jobs/job-1/dev-1').map(([, e]) => [e.status, e.versionNumber])).toEqual([
      ['IN_PROGRESS', 2], ['IN_PROGRESS', 3], ['SUCCEEDED', 4],
    ]);
    expect(events.filter(([t]) => t === 'fleet/events/rollouts/job-1').map(([, e]) => [e.event, e.status])).toEqual([
      ['created', 'IN_PROGRESS'], ['status', 'COMPLETED'],
    ]);
  });

  it('rejects with { code, message, executionState, clientToken }', async () => {
    const baton = await startBaton();
    const device = await jobsDevice(baton, 'dev-1');
    await customJob(baton, 'job-1', ['dev-1']);
    await device.notified(1);

    const cases: Array<[string, object, string]> = [
      ['nope/update', { status: 'IN_PROGRESS' }, 'NotFound'],
      ['job-1/update', { status: 'BOGUS' }, 'InvalidRequest'],
      ['job-1/update', { status: 'IN_PROGRESS', statusDetails: { blob: 'x'.repeat(1100) } }, 'InvalidRequest'],
      ['job-1/update', { status: 'IN_PROGRESS', stepTimeoutS: 0 }, 'InvalidRequest'],
      ['job-1/update', { status: 'CANCELED' }, 'InvalidStateTransition'],
      ['job-1/update', { status: 'IN_PROGRESS', expectedVersion: 7 }, 'VersionMismatch'],
    ];
    for (const [op, body, code] of cases) {
      const reply = await device.request(op, body);
      expect([op, reply.outcome, reply.body.code]).toEqual([op, 'rejected', code]);
      expect(reply.body.clientToken).toMatch(/^t-/);
    }
    const mismatch = await device.request('job-1/update', { status: 'IN_PROGRESS', expectedVersion: 7 });
    expect(mismatch.body).toMatchObject({ executionState: { status: 'QUEUED', statusDetails: null, versionNumber: 1 } });

    await device.request('job-1/update', { status: 'SUCCEEDED' });
    const terminal = await device.request('job-1/update', { status: 'IN_PROGRESS', expectedVersion: 1 });
    expect(terminal.body).toMatchObject({ code: 'TerminalState', executionState: { status: 'SUCCEEDED', versionNumber: 2 } });
    expect((await device.request('job-1/get')).outcome).toBe('accepted');
    expect((await device.request('nope/get')).body.code).toBe('NotFound');
    // Invalid JSON still gets an answer on …/rejected, and the connection stays up.
    const raw = nextMessage(device.client, (t) => t === 'devices/dev-1/jobs/get/rejected');
    await device.client.publishAsync('devices/dev-1/jobs/get', '{not json', { qos: 1 });
    expect((await raw).json).toMatchObject({ code: 'InvalidJSON', executionState: null });
    expect(device.client.connected).toBe(true);
  });

  it('runs one execution per device at a time, queued ones in creation order', async () => {
    const baton = await startBaton();
    const device = await jobsDevice(baton, 'dev-1');
    for (const id of ['job-a', 'job-b', 'job-c']) await customJob(baton, id, ['dev-1']);
    await eventually(async () => ((await device.request('get')).body.queuedJobs.length === 3 ? true : undefined));
    expect((await device.request('get')).body.queuedJobs.map((j: any) => j.jobId)).toEqual(['job-a', 'job-b', 'job-c']);

    expect((await device.request('start-next')).body.execution.jobId).toBe('job-a');
    const second = await device.request('job-b/update', { status: 'IN_PROGRESS' });
    expect(second.body).toMatchObject({ code: 'InvalidStateTransition', executionState: { status: 'QUEUED' } });
    // A queued execution may still be finished directly (as in AWS), which is not a second one in progress.
    expect((await device.request('job-c/update', { status: 'REJECTED', statusDetails: { reason: 'NotSupported' } })).outcome).toBe('accepted');

    const get = await device.request('get');
    expect(get.body.inProgressJobs.map((j: any) => j.jobId)).toEqual(['job-a']);
    expect(get.body.queuedJobs.map((j: any) => j.jobId)).toEqual(['job-b']);
    await device.request('job-a/update', { status: 'SUCCEEDED' });
    expect((await eventually(() => device.notifications.find((n) => n.execution?.jobId === 'job-b'))).execution.status).toBe('QUEUED');
    expect((await device.request('start-next')).body.execution.jobId).toBe('job-b');
  });

  it('sends notify-next on connect to a device with a persistent session', async () => {
    const baton = await startBaton();
    const device = await baton.createDevice('dev-1');
    const first = await baton.connectDevice(device, { clean: false });
    await first.subscribeAsync('devices/dev-1/jobs/notify-next', { qos: 1 });
    await first.endAsync();
    await customJob(baton, 'job-1', ['dev-1']);

    // Listen before CONNACK: the broker sends it as soon as the device is connected.
    const again = mqtt.connect(baton.mqttUrl, { clientId: 'dev-1', username: 'dev-1', password: device.secret, clean: false, reconnectPeriod: 0 });
    try {
      const notified = nextMessage(again, (t) => t === 'devices/dev-1/jobs/notify-next');
      expect((await notified).json.execution).toMatchObject({ jobId: 'job-1', status: 'QUEUED' });
    } finally {
      await again.endAsync(true);
    }
  });

  it("keeps a device out of another device's jobs (ACL)", async () => {
    const baton = await startBaton();
    const a = await jobsDevice(baton, 'dev-a');
    await baton.createDevice('dev-b');
    await customJob(baton, 'job-1', ['dev-b']);
    expect(await subscribeGranted(a.client, ['devices/dev-b/jobs/#', 'devices/dev-b/jobs/notify-next', 'devices/+/jobs/notify-next'])).toEqual([0x80, 0x80, 0x80]);
    for (const topic of ['devices/dev-b/jobs/get', 'devices/dev-b/jobs/job-1/update', 'devices/dev-a/jobs/get/accepted', 'devices/dev-a/jobs/notify-next']) {
      const client = await baton.connectDevice(a);
      const closed = whenClosed(client);
      client.publish(topic, JSON.stringify({ status: 'SUCCEEDED' }), { qos: 1 });
      await closed;
    }
    // And its own view of job-1 is "no such execution".
    const own = await jobsClient(await baton.connectDevice(a), a);
    expect((await own.request('job-1/update', { status: 'SUCCEEDED' })).body.code).toBe('NotFound');
    expect((await baton.api('GET', '/api/v1/jobs/job-1/executions')).body.items[0]).toMatchObject({ deviceId: 'dev-b', status: 'QUEUED', versionNumber: 1 });
  });
});
