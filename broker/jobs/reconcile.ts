/**
 * Reboot reconciliation: on every connect a device reports the firmware it runs and, after a
 * restart that interrupted one, the execution it was installing (`jobId`, `status`). The service
 * settles the execution without an operator:
 *
 * | execution | job | device says | decision |
 * |---|---|---|---|
 * | IN_PROGRESS or QUEUED | firmware | runs the target version | SUCCEEDED (`TargetVersionRunning`) |
 * | IN_PROGRESS, named by `jobId` | firmware | runs another version | FAILED (`RebootedIntoOldVersion`), then the retry policy |
 * | not finished, named by `jobId` | any | `status` SUCCEEDED, FAILED or REJECTED | that status (`ReportedByDevice`) |
 * | anything else | | | unchanged |
 *
 * An in-progress firmware execution the device does *not* name is only ever marked SUCCEEDED: a
 * device that merely reconnected (its link dropped mid-download) still runs the old version, and
 * must not be failed for it.
 *
 * A SUCCEEDED firmware execution whose device now runs another version stays as it is (it is
 * final), but the device fell back to the old version after updating (`fellBackToOldVersion`): a
 * staged rollout counts that against its wave's health gate (broker/rollouts/presence.ts).
 */
import { DEVICE_STATUSES, isTerminal, type ExecutionStatus, type ReconcileRequest, type UpdateRequest } from '../../device-sdk/protocol/jobs.js';
import { deviceUpdate, type DeviceView, type Steps } from './executions.js';
import type { JobRecord } from './model.js';

export type ReconcileAction = 'SUCCEEDED' | 'FAILED' | 'UPDATED' | 'UNCHANGED';

export interface ReconcileOutcome {
  action: ReconcileAction;
  reason: string;
  steps: Steps;
}

/** The outcomes a device may report for itself (DEVICE_STATUSES without IN_PROGRESS). */
const finalDeviceStatuses: readonly ExecutionStatus[] = DEVICE_STATUSES.filter((s) => s !== 'IN_PROGRESS');

const unchanged = (reason: string): ReconcileOutcome => ({ action: 'UNCHANGED', reason, steps: [] });

/** The decision for one execution of the device; `named` when the request's `jobId` is this execution's job. */
export function reconcileExecution(view: DeviceView, request: ReconcileRequest, named: boolean, now: number): ReconcileOutcome {
  const { execution: e, job } = view;
  if (!e || !job || e.admittedAt === null) return unchanged('NotFound');
  if (isTerminal(e.status)) return unchanged('AlreadyFinished');
  const update = (action: ReconcileAction, reason: string, u: UpdateRequest): ReconcileOutcome => ({ action, reason, steps: deviceUpdate(view, u, now) });

  if (job.type === 'firmware' && job.firmware) {
    const expected = job.firmware.version;
    if (request.firmwareVersion === expected) {
      return update('SUCCEEDED', 'TargetVersionRunning', { status: 'SUCCEEDED', statusDetails: { reason: 'TargetVersionRunning', firmwareVersion: expected } });
    }
    if (named && e.status === 'IN_PROGRESS') {
      const statusDetails = { reason: 'RebootedIntoOldVersion', firmwareVersion: request.firmwareVersion, expectedVersion: expected };
      return update('FAILED', 'RebootedIntoOldVersion', { status: 'FAILED', statusDetails });
    }
  }
  const reported = request.status;
  if (named && reported !== undefined && finalDeviceStatuses.includes(reported)) {
    return update('UPDATED', 'ReportedByDevice', { status: reported });
  }
  return unchanged('NothingToDo');
}

/**
 * Whether a device reporting `firmwareVersion` fell back to the old version after its firmware
 * execution SUCCEEDED (its bootloader rolled the update back, or the new image kept crashing).
 */
export function fellBackToOldVersion(job: Pick<JobRecord, 'type' | 'firmware'>, status: ExecutionStatus, firmwareVersion: string): boolean {
  return job.type === 'firmware' && job.firmware !== null && status === 'SUCCEEDED' && firmwareVersion !== job.firmware.version;
}
