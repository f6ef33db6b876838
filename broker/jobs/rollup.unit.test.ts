import { describe, expect, it } from 'vitest';
import { isBatonError } from '../../device-sdk/protocol/errors.js';
import { JOB_STATUSES, type JobStatus } from '../../device-sdk/protocol/jobs.js';
import { applyJobAction, rollupStatus, type JobAction } from './rollup.js';
import { job, T0 } from './test-fixtures.js';

describe('job status rollup', () => {
  const later = new Date(T0 + 60_000).toISOString();
  it.each<[string, Parameters<typeof job>[0], boolean, JobStatus]>([
    ['executions pending', {}, true, 'IN_PROGRESS'],
    ['nothing pending', {}, false, 'COMPLETED'],
    ['nothing pending, continuous', { continuous: true }, false, 'IN_PROGRESS'],
    ['before schedule.startAt', { schedule: { startAt: later } }, true, 'SCHEDULED'],
    ['before startAt, nothing targeted', { schedule: { startAt: later } }, false, 'SCHEDULED'],
    ['paused stays paused', { status: 'PAUSED' }, false, 'PAUSED'],
    ['canceled stays canceled', { status: 'CANCELED' }, true, 'CANCELED'],
    ['aborted stays aborted', { status: 'ABORTED' }, true, 'ABORTED'],
    ['completed stays completed', { status: 'COMPLETED' }, true, 'COMPLETED'],
  ])('%s → %s', (_name, patch, pending, expected) => {
    expect(rollupStatus(job(patch), pending, T0)).toBe(expected);
  });
});

describe('job actions', () => {
  const allowed: Record<JobAction, JobStatus[]> = {
    pause: ['SCHEDULED', 'IN_PROGRESS'],
    resume: ['PAUSED'],
    cancel: ['SCHEDULED', 'IN_PROGRESS', 'PAUSED'],
    forceCancel: ['SCHEDULED', 'IN_PROGRESS', 'PAUSED', 'CANCELED'],
    abort: ['SCHEDULED', 'IN_PROGRESS', 'PAUSED'],
  };
  const terminal: JobStatus[] = ['COMPLETED', 'CANCELED', 'ABORTED'];
  const cases = (Object.keys(allowed) as JobAction[]).flatMap((action) => JOB_STATUSES.map((from) => [action, from] as const));

  it.each(cases)('%s a %s job', (action, from) => {
    let outcome: string;
    try {
      outcome = applyJobAction(job({ status: from }), action, true, T0 + 1, 'why').status;
    } catch (err) {
      if (!isBatonError(err)) throw err;
      outcome = err.code;
    }
    const expected = allowed[action].includes(from)
      ? { pause: 'PAUSED', resume: 'IN_PROGRESS', cancel: 'CANCELED', forceCancel: 'CANCELED', abort: 'ABORTED' }[action]
      : terminal.includes(from) ? 'TerminalState' : 'InvalidStateTransition';
    expect(outcome).toBe(expected);
  });

  it('resume hands back to the rollup: a job whose executions all finished while paused completes', () => {
    expect(applyJobAction(job({ status: 'PAUSED' }), 'resume', false, T0 + 5)).toMatchObject({ status: 'COMPLETED', completedAt: T0 + 5 });
  });

  it('cancel records the reason; a forced cancel after a plain one is recorded as forced', () => {
    const canceled = applyJobAction(job(), 'cancel', true, T0 + 1, 'bad build');
    expect(canceled).toMatchObject({ status: 'CANCELED', reason: 'bad build', forceCanceled: false, completedAt: T0 + 1 });
    expect(applyJobAction(canceled, 'forceCancel', true, T0 + 2)).toMatchObject({ status: 'CANCELED', reason: 'bad build', forceCanceled: true, completedAt: T0 + 1 });
  });
});
