import { describe, expect, it } from 'vitest';
import { BatonError, isBatonError } from '../../device-sdk/protocol/errors.js';
import type { UpdateRequest } from '../../device-sdk/protocol/jobs.js';
import { cancel, deviceUpdate, rejoin, remove, startNext, timeOut, type DeviceView } from './executions.js';
import { execution, inProgress, job, T0 } from './test-fixtures.js';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'none';
  } catch (err) {
    if (isBatonError(err)) return err.code;
    throw err;
  }
};
const view = (patch: Partial<DeviceView> = {}): DeviceView => ({ execution: execution(), job: job(), inProgress: undefined, ...patch });
const statuses = (steps: { status: string; attempt: number; versionNumber: number }[]) => steps.map((s) => [s.status, s.attempt, s.versionNumber]);

describe('device updates', () => {
  it.each<[string, DeviceView, UpdateRequest, string]>([
    ['a job the device does not have', view({ execution: undefined, job: undefined }), { status: 'IN_PROGRESS' }, 'NotFound'],
    ['an execution not yet admitted', view({ execution: execution({ admittedAt: null }) }), { status: 'IN_PROGRESS' }, 'NotFound'],
    ['a finished execution, whatever the version', view({ execution: execution({ status: 'SUCCEEDED', versionNumber: 3 }) }), { status: 'IN_PROGRESS', expectedVersion: 1 }, 'TerminalState'],
    ['a stale expectedVersion', view({ execution: inProgress({ versionNumber: 2 }) }), { status: 'IN_PROGRESS', expectedVersion: 1 }, 'VersionMismatch'],
    ['a status only the service sets', view(), { status: 'CANCELED' }, 'InvalidStateTransition'],
    ['back to QUEUED', view({ execution: inProgress() }), { status: 'QUEUED' }, 'InvalidStateTransition'],
    ['a second execution in progress', view({ inProgress: inProgress({ jobId: 'job-0' }) }), { status: 'IN_PROGRESS' }, 'InvalidStateTransition'],
    ['the matching expectedVersion', view({ execution: inProgress({ versionNumber: 2 }) }), { status: 'SUCCEEDED', expectedVersion: 2 }, 'none'],
  ])('%s → %s', (_name, v, request, code) => {
    expect(codeOf(() => deviceUpdate(v, request, T0 + 1000))).toBe(code);
  });

  it('starts: IN_PROGRESS, startedAt, both timers, one more version', () => {
    const [next] = deviceUpdate(view({ job: job({ timeouts: { inProgressS: 600 } }) }), { status: 'IN_PROGRESS', stepTimeoutS: 60, statusDetails: { step: 'download' } }, T0 + 1000);
    expect(next).toMatchObject({ status: 'IN_PROGRESS', versionNumber: 2, startedAt: T0 + 1000, stepDeadline: T0 + 61_000, inProgressDeadline: T0 + 601_000, statusDetails: { step: 'download' } });
  });

  it('restarts the step timer only when an update names one, and never the in-progress timer', () => {
    const running = inProgress({ stepDeadline: T0 + 60_000, inProgressDeadline: T0 + 600_000, statusDetails: { step: 'download' } });
    const [kept] = deviceUpdate(view({ execution: running }), { status: 'IN_PROGRESS', progress: { bytes: 10, percent: 1 } }, T0 + 30_000);
    expect(kept).toMatchObject({ stepDeadline: T0 + 60_000, inProgressDeadline: T0 + 600_000, statusDetails: { step: 'download' }, progress: { bytes: 10, percent: 1 } });
    const [reset] = deviceUpdate(view({ execution: running }), { status: 'IN_PROGRESS', stepTimeoutS: 60 }, T0 + 30_000);
    expect(reset).toMatchObject({ stepDeadline: T0 + 90_000, inProgressDeadline: T0 + 600_000 });
  });

  it('finishing clears the timers and stamps completedAt', () => {
    const [done] = deviceUpdate(view({ execution: inProgress({ stepDeadline: T0 + 1 }) }), { status: 'SUCCEEDED' }, T0 + 5);
    expect(done).toMatchObject({ status: 'SUCCEEDED', stepDeadline: null, inProgressDeadline: null, completedAt: T0 + 5 });
  });
});

describe('start-next', () => {
  it('returns the execution in progress unchanged (as AWS does)', () => {
    const running = inProgress();
    expect(startNext(view({ execution: running, inProgress: running }), { stepTimeoutS: 5 }, T0)).toEqual({ execution: running, steps: [] });
  });
  it('starts the next queued one', () => {
    const { execution: e, steps } = startNext(view(), { statusDetails: { by: 'sdk' } }, T0 + 1);
    expect(e).toMatchObject({ status: 'IN_PROGRESS', statusDetails: { by: 'sdk' }, versionNumber: 2 });
    expect(steps).toEqual([e]);
  });
  it('has nothing when nothing is admitted', () => {
    expect(startNext(view({ execution: undefined, job: undefined }), {}, T0)).toEqual({ execution: undefined, steps: [] });
  });
});

describe('timeouts', () => {
  const running = inProgress({ stepDeadline: T0 + 60_000, inProgressDeadline: T0 + 600_000 });
  it.each([
    ['before either deadline', T0 + 59_999, []],
    ['at the step deadline', T0 + 60_000, [['TIMED_OUT', 1, 3]]],
  ] as const)('%s', (_name, now, expected) => {
    expect(statuses(timeOut(running, job(), now))).toEqual(expected);
  });
  it('says which timer passed', () => {
    expect(timeOut(running, job(), T0 + 60_000)[0]?.statusDetails).toEqual({ reason: 'StepTimeout' });
    expect(timeOut(inProgress({ inProgressDeadline: T0 + 10 }), job(), T0 + 10)[0]?.statusDetails).toEqual({ reason: 'InProgressTimeout' });
  });
  it('leaves executions that are not in progress alone', () => {
    expect(timeOut(execution({ stepDeadline: T0 }), job(), T0 + 1)).toEqual([]);
  });
});

describe('retries per failure type', () => {
  const retries = [{ failureType: 'FAILED' as const, maxAttempts: 3 }, { failureType: 'TIMED_OUT' as const, maxAttempts: 2 }];
  const failAt = (attempt: number) => deviceUpdate(view({ execution: inProgress({ attempt }), job: job({ retries }) }), { status: 'FAILED', statusDetails: { reason: 'Disk' } }, T0 + 1);
  const timeOutAt = (attempt: number) => timeOut(inProgress({ attempt, stepDeadline: T0 }), job({ retries }), T0 + 1);

  it.each([
    ['FAILED, attempt 1 of 3', () => failAt(1), [['FAILED', 1, 3], ['QUEUED', 2, 4]]],
    ['FAILED, attempt 2 of 3', () => failAt(2), [['FAILED', 2, 3], ['QUEUED', 3, 4]]],
    ['FAILED, attempt 3 of 3', () => failAt(3), [['FAILED', 3, 3]]],
    ['TIMED_OUT, attempt 1 of 2', () => timeOutAt(1), [['TIMED_OUT', 1, 3], ['QUEUED', 2, 4]]],
    ['TIMED_OUT, attempt 2 of 2', () => timeOutAt(2), [['TIMED_OUT', 2, 3]]],
  ])('%s', (_name, run, expected) => {
    expect(statuses(run())).toEqual(expected);
  });

  it('without a policy a failure is final', () => {
    expect(statuses(deviceUpdate(view({ execution: inProgress() }), { status: 'FAILED' }, T0))).toEqual([['FAILED', 1, 3]]);
  });

  it('REJECTED is never retried', () => {
    expect(statuses(deviceUpdate(view({ execution: inProgress(), job: job({ retries }) }), { status: 'REJECTED' }, T0))).toEqual([['REJECTED', 1, 3]]);
  });

  it('a retry keeps its admission and the failure details, and clears progress and timers', () => {
    const [, retry] = failAt(1);
    expect(retry).toMatchObject({ admittedAt: T0, statusDetails: { reason: 'Disk' }, progress: null, startedAt: null, completedAt: null, stepDeadline: null });
  });
});

describe('cancel and remove', () => {
  it.each([
    ['QUEUED', false, ['CANCELED']],
    ['IN_PROGRESS', false, []],
    ['IN_PROGRESS', true, ['CANCELED']],
    ['SUCCEEDED', true, []],
  ] as const)('cancel %s (force %s)', (status, force, expected) => {
    expect(cancel(execution({ status }), force, T0).map((s) => s.status)).toEqual(expected);
  });

  it('removes a queued execution, and an in-progress one only when asked', () => {
    expect(remove(execution(), { reason: 'x' }, T0).map((s) => s.status)).toEqual(['REMOVED']);
    expect(remove(inProgress(), { reason: 'x' }, T0)).toEqual([]);
    expect(remove(inProgress(), { reason: 'x' }, T0, true).map((s) => s.status)).toEqual(['REMOVED']);
  });

  it('a device removed for leaving comes back as a new attempt waiting for admission; other executions stay', () => {
    const [left] = remove(execution({ progress: { percent: 10 } }), { reason: 'LeftTargets' }, T0 + 1);
    expect(rejoin(left!, 'LeftTargets', T0 + 2)).toEqual([{
      ...left, status: 'QUEUED', attempt: 2, versionNumber: 3, statusDetails: null, progress: null,
      queuedAt: T0 + 2, updatedAt: T0 + 2, startedAt: null, completedAt: null, admittedAt: null,
    }]);
    expect(rejoin(remove(execution(), { reason: 'DeviceDeleted' }, T0)[0]!, 'LeftTargets', T0)).toEqual([]);
    expect(rejoin(execution({ status: 'SUCCEEDED' }), 'LeftTargets', T0)).toEqual([]);
  });
});

it('BatonError codes used here are in the catalogue', () => {
  expect(new BatonError('VersionMismatch', 'x').httpStatus).toBe(409);
  expect(new BatonError('InvalidStateTransition', 'x').httpStatus).toBe(409);
});
