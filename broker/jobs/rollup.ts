/**
 * Job status. An operator (or the rollout scheduler) controls PAUSED, CANCELED and ABORTED with
 * the actions in `jobActions`; otherwise the status follows from the schedule and the executions:
 * SCHEDULED before `schedule.startAt`, COMPLETED once a job that is not continuous has no queued
 * or in-progress execution left, IN_PROGRESS in between. A continuous job never completes: it
 * keeps picking up devices that come to match its targets (AWS IoT continuous jobs do the same).
 */
import { BatonError } from '../../device-sdk/protocol/errors.js';
import type { JobStatus } from '../../device-sdk/protocol/jobs.js';
import type { JobRecord } from './model.js';

export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['COMPLETED', 'CANCELED', 'ABORTED'];
export const isJobTerminal = (s: JobStatus): boolean => TERMINAL_JOB_STATUSES.includes(s);

/** `schedule.startAt` and `schedule.endAt` as epoch ms (the rollouts issue defines the rest of `schedule`). */
export function scheduleWindow(job: Pick<JobRecord, 'schedule'>): { startAt: number | null; endAt: number | null } {
  const at = (v: unknown) => (typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? Date.parse(v) : null);
  return { startAt: at(job.schedule?.['startAt']), endAt: at(job.schedule?.['endAt']) };
}

/** The status a job not under operator control has now. `pending`: it has queued or in-progress executions. */
export function rollupStatus(job: JobRecord, pending: boolean, now: number): JobStatus {
  if (isJobTerminal(job.status) || job.status === 'PAUSED') return job.status;
  const { startAt } = scheduleWindow(job);
  if (startAt !== null && startAt > now) return 'SCHEDULED';
  if (!job.continuous && !pending) return 'COMPLETED';
  return 'IN_PROGRESS';
}

export type JobAction = 'pause' | 'resume' | 'cancel' | 'forceCancel' | 'abort';

/** action → the statuses it applies to. Anything else is refused (TerminalState once finished). */
export const jobActions: Readonly<Record<JobAction, readonly JobStatus[]>> = {
  pause: ['SCHEDULED', 'IN_PROGRESS'],
  resume: ['PAUSED'],
  cancel: ['SCHEDULED', 'IN_PROGRESS', 'PAUSED'],
  // A forced cancel may follow a plain one, to stop what was left running.
  forceCancel: ['SCHEDULED', 'IN_PROGRESS', 'PAUSED', 'CANCELED'],
  abort: ['SCHEDULED', 'IN_PROGRESS', 'PAUSED'],
};

/** The job after `action`; resume hands the status back to the rollup. */
export function applyJobAction(job: JobRecord, action: JobAction, pending: boolean, now: number, reason?: string): JobRecord {
  if (!jobActions[action].includes(job.status)) {
    const code = isJobTerminal(job.status) ? 'TerminalState' : 'InvalidStateTransition';
    throw new BatonError(code, `cannot ${action} job ${job.id}: it is ${job.status}`, { status: job.status });
  }
  const changed = { ...job, updatedAt: now };
  switch (action) {
    case 'pause':
      return { ...changed, status: 'PAUSED' };
    case 'resume': {
      const status = rollupStatus({ ...job, status: 'IN_PROGRESS' }, pending, now);
      return { ...changed, status, completedAt: isJobTerminal(status) ? now : null };
    }
    case 'cancel':
    case 'forceCancel':
      return { ...changed, status: 'CANCELED', reason: reason ?? job.reason, forceCanceled: job.forceCanceled || action === 'forceCancel', completedAt: job.completedAt ?? now };
    case 'abort':
      return { ...changed, status: 'ABORTED', reason: reason ?? job.reason, completedAt: now };
  }
}
