/**
 * The execution state machine: one explicit table of who may move an execution from which status
 * to which. The device may set IN_PROGRESS, SUCCEEDED, FAILED and REJECTED (AWS IoT Jobs lets a
 * device finish a QUEUED execution directly, and so do we); the service sets the rest: TIMED_OUT
 * when a timer passes, CANCELED and REMOVED, and QUEUED again for a retry or for a device that
 * came back into a continuous job's targets.
 *
 * A refused change is `TerminalState` when the execution has finished (whatever was asked) and
 * `InvalidStateTransition` otherwise. Errors carry the current `executionState`, which the MQTT
 * edge returns in the `…/rejected` reply.
 */
import { BatonError, type ErrorCode } from '../../device-sdk/protocol/errors.js';
import { isTerminal, type ExecutionState, type ExecutionStatus } from '../../device-sdk/protocol/jobs.js';
import type { ExecutionRecord } from './model.js';

export type Actor = 'device' | 'service';

const device = 'device' as const;
const service = 'service' as const;

/** from → to → the one actor allowed to make that change. Anything absent is refused. */
export const executionTransitions: Readonly<Record<ExecutionStatus, Partial<Record<ExecutionStatus, Actor>>>> = {
  QUEUED: { IN_PROGRESS: device, SUCCEEDED: device, FAILED: device, REJECTED: device, CANCELED: service, REMOVED: service },
  // IN_PROGRESS → IN_PROGRESS is a progress update (it may restart the step timer).
  IN_PROGRESS: { IN_PROGRESS: device, SUCCEEDED: device, FAILED: device, REJECTED: device, TIMED_OUT: service, CANCELED: service, REMOVED: service },
  // A retry starts a new attempt of a failed or timed-out execution (see retries.ts).
  FAILED: { QUEUED: service },
  TIMED_OUT: { QUEUED: service },
  SUCCEEDED: {},
  REJECTED: {},
  CANCELED: {},
  // A device that left a continuous job's targets and matches them again: a new attempt (executions.ts `rejoin`).
  REMOVED: { QUEUED: service },
};

export const executionStateOf = (e: ExecutionRecord): ExecutionState => ({
  status: e.status,
  statusDetails: e.statusDetails,
  versionNumber: e.versionNumber,
});

export function executionError(code: ErrorCode, message: string, e: ExecutionRecord | undefined): BatonError {
  return new BatonError(code, message, { executionState: e ? executionStateOf(e) : null });
}

/** Throws unless `actor` may move `e` to `to`. */
export function checkTransition(e: ExecutionRecord, to: ExecutionStatus, actor: Actor): void {
  if (executionTransitions[e.status][to] === actor) return;
  if (isTerminal(e.status)) throw executionError('TerminalState', `execution ${e.jobId} has finished (${e.status})`, e);
  throw executionError('InvalidStateTransition', `${actor} may not move execution ${e.jobId} from ${e.status} to ${to}`, e);
}
