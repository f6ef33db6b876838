import { describe, expect, it } from 'vitest';
import { createJob, jobDetail, jobsDevice, jobStatus, type JobsDevice } from './helpers/jobs.js';
import { allExecutions, answeringDevice, firmwareFor, rolloutEvents, storedRollout, why } from './helpers/rollouts.js';
import { eventually, startBaton } from './helpers/service.js';

describe('staged rollouts: abort criteria', () => {
  it('stops at the crossing: no device is admitted after it, queued executions are canceled with reason "aborted"', async () => {
    const baton = await startBaton({ jobsTickMs: 20 });
    const firmwareId = await firmwareFor(baton);
    // 40 devices, 4 at a time; every third one fails: the failure share crosses 25 % after 8 have finished.
    const ids = Array.from({ length: 40 }, (_, i) => `d${String(i).padStart(2, '0')}`);
    const failing = new Set(ids.filter((_, i) => i % 3 === 1));
    for (const id of ids) await answeringDevice(baton, id, { deviceClass: 'sensor' }, () => (failing.has(id) ? 'FAILED' : 'SUCCEEDED'));
    const events = await rolloutEvents(baton, 'fw-abort');
    await createJob(baton, {
      id: 'fw-abort', type: 'firmware', firmwareId, targets: { devices: ids },
      rollout: { maxConcurrent: 4 },
      abort: { criteria: [{ failureType: 'FAILED', thresholdPercentage: 25, minExecuted: 8 }] },
    });

    const stopped = await events.next('stopped', undefined, 20_000);
    expect(stopped).toMatchObject({ phase: 'aborted', cause: { kind: 'abort-criterion', criterion: { failureType: 'FAILED', thresholdPercentage: 25, minExecuted: 8 } } });
    await jobStatus(baton, 'fw-abort', 'ABORTED');
    const detail = await jobDetail(baton, 'fw-abort');
    expect(detail.reason).toMatch(/abort criterion crossed: FAILED ≥ 25%/);
    // Settle: what was in progress at the crossing finishes (abort.inProgress defaults to finish).
    await eventually(async () => ((await jobDetail(baton, 'fw-abort')).counts.IN_PROGRESS === 0 ? true : undefined));

    const executions = await allExecutions(baton, 'fw-abort');
    const admitted = executions.filter((e) => e.admittedAt !== null);
    const stopAt = Date.parse(stopped.at);
    // The admin API's view: every admission is at or before the crossing event.
    expect(admitted.every((e) => Date.parse(e.admittedAt) <= stopAt)).toBe(true);
    expect(admitted.length).toBeLessThan(ids.length);
    // The scheduler's own accounting agrees: its admissions all precede its stop.
    const { state } = storedRollout(baton, 'fw-abort')!;
    expect(state.phase).toBe('aborted');
    // (Executions canceled without ever being admitted are in its state too, stamped at the cancel.)
    const schedulerAdmissions = admitted.map((e) => state.executions[e.deviceId].admittedAt as number);
    expect(schedulerAdmissions.filter((t) => t > state.stop.at)).toEqual([]);
    expect(state.stop.at).toBe(stopAt);
    // Never admitted → canceled, explained as aborted.
    const never = executions.filter((e) => e.admittedAt === null);
    expect(never.length).toBeGreaterThan(0);
    expect(never.every((e) => e.status === 'CANCELED' && e.reason === 'aborted' && e.reasonDetails.cause === 'abort-criterion')).toBe(true);
    expect(await why(baton, 'fw-abort', never[0].deviceId)).toMatchObject({ status: 'CANCELED', reason: 'aborted' });
  });

  it('abort.inProgress "cancel" cancels the executions in progress at the crossing too', async () => {
    const baton = await startBaton({ jobsTickMs: 20 });
    const firmwareId = await firmwareFor(baton);
    const devices = new Map<string, JobsDevice>();
    for (const id of ['a1', 'a2', 'a3', 'b1', 'b2']) devices.set(id, await jobsDevice(baton, id, { deviceClass: 'sensor' }));
    await createJob(baton, {
      id: 'fw-cancel', type: 'firmware', firmwareId, targets: { devices: ['b1', 'b2', 'a1', 'a2', 'a3'] },
      abort: { criteria: [{ failureType: 'ALL', thresholdPercentage: 50, minExecuted: 3 }], inProgress: 'cancel' },
    });
    // b1 and b2 start and keep working; then a1–a3 fail.
    for (const id of ['b1', 'b2']) await eventually(async () => ((await devices.get(id)!.request('start-next')).body.execution ? true : undefined));
    for (const id of ['a1', 'a2', 'a3']) await eventually(async () => ((await devices.get(id)!.request('fw-cancel/update', { status: 'FAILED' })).outcome === 'accepted' ? true : undefined));
    await jobStatus(baton, 'fw-cancel', 'ABORTED');
    const statuses = Object.fromEntries((await allExecutions(baton, 'fw-cancel')).map((e) => [e.deviceId, e.status]));
    expect(statuses).toEqual({ b1: 'CANCELED', b2: 'CANCELED', a1: 'FAILED', a2: 'FAILED', a3: 'FAILED' });
  });
});
