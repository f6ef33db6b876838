/**
 * Changes to one execution, as pure functions of (what the store holds, the request, now).
 *
 * Each returns the list of states the execution goes through, oldest first: usually one, two when
 * a failure is retried at once (FAILED, then QUEUED for the next attempt), none when nothing
 * changes. The store persists the last; every state is announced to integrations. Every state
 * bumps `versionNumber`, so a device holding an old `expectedVersion` is refused.
 */
import { isTerminal, type ExecutionStatus, type StartNextRequest, type StatusDetails, type UpdateRequest } from '../../device-sdk/protocol/jobs.js';
import type { ExecutionRecord, JobRecord } from './model.js';
import { retryStep } from './retries.js';
import { deadlineOf } from './timeouts.js';
import { checkTransition, executionError } from './transitions.js';

/** What a device request is about: the addressed execution, its job, and the device's in-progress one. */
export interface DeviceView {
  execution: ExecutionRecord | undefined;
  job: JobRecord | undefined;
  inProgress: ExecutionRecord | undefined;
}

export type Steps = ExecutionRecord[];

/** The next state: one more version, touched now. */
export const nextState = (e: ExecutionRecord, patch: Partial<ExecutionRecord>, now: number): ExecutionRecord => ({
  ...e,
  ...patch,
  versionNumber: e.versionNumber + 1,
  updatedAt: now,
});

/** An execution not yet admitted by the scheduler does not exist as far as its device knows. */
export const visibleToDevice = (e: ExecutionRecord | undefined): e is ExecutionRecord => e !== undefined && e.admittedAt !== null;

/** Timers and timestamps for a move to `to`: started when work begins, cleared when it ends. */
function timers(e: ExecutionRecord, to: ExecutionStatus, job: JobRecord, stepTimeoutS: number | undefined, now: number): Partial<ExecutionRecord> {
  const step = stepTimeoutS === undefined ? undefined : now + stepTimeoutS * 1000;
  if (isTerminal(to)) return { stepDeadline: null, inProgressDeadline: null, completedAt: now };
  if (e.status === 'QUEUED') {
    const inProgressS = job.timeouts.inProgressS;
    return { startedAt: now, stepDeadline: step ?? null, inProgressDeadline: inProgressS === undefined ? null : now + inProgressS * 1000 };
  }
  return { stepDeadline: step ?? e.stepDeadline };
}

/** `…/jobs/{jobId}/update`. Checks, in order: exists, finished, expectedVersion, the table, one in progress. */
export function deviceUpdate(view: DeviceView, request: UpdateRequest, now: number): Steps {
  const e = view.execution;
  if (!visibleToDevice(e) || !view.job) throw executionError('NotFound', 'no such job execution for this device', undefined);
  if (isTerminal(e.status)) throw executionError('TerminalState', `execution ${e.jobId} has finished (${e.status})`, e);
  if (request.expectedVersion !== undefined && request.expectedVersion !== e.versionNumber) {
    throw executionError('VersionMismatch', `expected version ${request.expectedVersion}, current is ${e.versionNumber}`, e);
  }
  checkTransition(e, request.status, 'device');
  if (request.status === 'IN_PROGRESS' && view.inProgress && view.inProgress.jobId !== e.jobId) {
    throw executionError('InvalidStateTransition', `job ${view.inProgress.jobId} is already in progress on this device`, e);
  }
  const next = nextState(e, {
    status: request.status,
    statusDetails: request.statusDetails ?? e.statusDetails,
    progress: request.progress ?? e.progress,
    ...timers(e, request.status, view.job, request.stepTimeoutS, now),
  }, now);
  return withRetry([next], view.job, now);
}

/**
 * `…/jobs/start-next`: the in-progress execution if there is one (unchanged, as AWS does), else
 * the next queued one moved to IN_PROGRESS. `view.execution` is the device's next pending one.
 */
export function startNext(view: DeviceView, request: StartNextRequest, now: number): { execution: ExecutionRecord | undefined; steps: Steps } {
  if (!visibleToDevice(view.execution)) return { execution: undefined, steps: [] };
  if (view.execution.status === 'IN_PROGRESS') return { execution: view.execution, steps: [] };
  const steps = deviceUpdate(view, { status: 'IN_PROGRESS', statusDetails: request.statusDetails, stepTimeoutS: request.stepTimeoutS }, now);
  return { execution: steps.at(-1), steps };
}

/** A failure is followed at once by the retry its job allows, if any. */
function withRetry(steps: Steps, job: JobRecord, now: number): Steps {
  const retry = retryStep(steps.at(-1)!, job.retries, now);
  return retry ? [...steps, retry] : steps;
}

/** The service's timer: TIMED_OUT once a step or in-progress deadline has passed. */
export function timeOut(e: ExecutionRecord, job: JobRecord, now: number): Steps {
  const deadline = deadlineOf(e);
  if (e.status !== 'IN_PROGRESS' || deadline === null || deadline > now) return [];
  const reason = e.stepDeadline !== null && e.stepDeadline <= now ? 'StepTimeout' : 'InProgressTimeout';
  const next = nextState(e, { status: 'TIMED_OUT', statusDetails: { ...e.statusDetails, reason }, ...timers(e, 'TIMED_OUT', job, undefined, now) }, now);
  return withRetry([next], job, now);
}

/** A job canceled: queued executions always, in-progress ones only when forced. */
export function cancel(e: ExecutionRecord, force: boolean, now: number): Steps {
  if (e.status === 'QUEUED' || (e.status === 'IN_PROGRESS' && force)) {
    return [nextState(e, { status: 'CANCELED', stepDeadline: null, inProgressDeadline: null, completedAt: now }, now)];
  }
  return [];
}

/**
 * The device left the job: re-tagged out of a continuous job before it started (queued only, the
 * caller's `details.reason` says `LeftTargets`), or deleted (in progress too, since it can never
 * report again).
 */
export function remove(e: ExecutionRecord, details: StatusDetails, now: number, alsoInProgress = false): Steps {
  if (e.status !== 'QUEUED' && !(alsoInProgress && e.status === 'IN_PROGRESS')) return [];
  return [nextState(e, { status: 'REMOVED', statusDetails: details, stepDeadline: null, inProgressDeadline: null, completedAt: now }, now)];
}

/**
 * A device removed from a continuous job because it stopped matching (`leftReason`) matches again:
 * a new attempt, waiting for admission like a device the job just picked up. Any other execution
 * is left as it is (a deleted device's, or one that ran).
 */
export function rejoin(e: ExecutionRecord, leftReason: string, now: number): Steps {
  if (e.status !== 'REMOVED' || e.statusDetails?.['reason'] !== leftReason) return [];
  return [nextState(e, {
    status: 'QUEUED',
    attempt: e.attempt + 1,
    statusDetails: null,
    progress: null,
    queuedAt: now,
    startedAt: null,
    completedAt: null,
    admittedAt: null,
  }, now)];
}
