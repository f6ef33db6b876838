import { describe, expect, it } from 'vitest';
import type { ReconcileRequest } from '../../device-sdk/protocol/jobs.js';
import type { DeviceView } from './executions.js';
import { fellBackToOldVersion, reconcileExecution } from './reconcile.js';
import type { ExecutionStatus } from '../../device-sdk/protocol/jobs.js';
import { execution, firmwareJob, inProgress, job, T0 } from './test-fixtures.js';

const fw = (e = inProgress()): DeviceView => ({ execution: e, job: firmwareJob({ retries: [] }), inProgress: e.status === 'IN_PROGRESS' ? e : undefined });

describe('reconciliation', () => {
  it.each<[string, DeviceView, ReconcileRequest, boolean, string, string, string[]]>([
    ['rebooted into the new version', fw(), { firmwareVersion: '2.0.0', jobId: 'job-1', status: 'IN_PROGRESS' }, true, 'SUCCEEDED', 'TargetVersionRunning', ['SUCCEEDED']],
    ['rebooted into the old version', fw(), { firmwareVersion: '1.9.0', jobId: 'job-1', status: 'IN_PROGRESS' }, true, 'FAILED', 'RebootedIntoOldVersion', ['FAILED']],
    ['reconnected mid-download, not named', fw(), { firmwareVersion: '1.9.0' }, false, 'UNCHANGED', 'NothingToDo', []],
    ['runs the target without naming the job', fw(), { firmwareVersion: '2.0.0' }, false, 'SUCCEEDED', 'TargetVersionRunning', ['SUCCEEDED']],
    ['queued, already runs the target', fw(execution()), { firmwareVersion: '2.0.0' }, false, 'SUCCEEDED', 'TargetVersionRunning', ['SUCCEEDED']],
    ['queued, named, old version', fw(execution()), { firmwareVersion: '1.9.0', jobId: 'job-1' }, true, 'UNCHANGED', 'NothingToDo', []],
    ['already finished', fw(inProgress({ status: 'SUCCEEDED' })), { firmwareVersion: '1.9.0', jobId: 'job-1' }, true, 'UNCHANGED', 'AlreadyFinished', []],
    ['unknown job', { execution: undefined, job: undefined, inProgress: undefined }, { firmwareVersion: '1', jobId: 'x' }, true, 'UNCHANGED', 'NotFound', []],
    ['custom job the device finished before restarting', { execution: inProgress(), job: job(), inProgress: inProgress() }, { firmwareVersion: '1', jobId: 'job-1', status: 'SUCCEEDED' }, true, 'UPDATED', 'ReportedByDevice', ['SUCCEEDED']],
    ['custom job still in progress', { execution: inProgress(), job: job(), inProgress: inProgress() }, { firmwareVersion: '1', jobId: 'job-1', status: 'IN_PROGRESS' }, true, 'UNCHANGED', 'NothingToDo', []],
  ])('%s', (_name, view, request, named, action, reason, statuses) => {
    const outcome = reconcileExecution(view, request, named, T0 + 1);
    expect([outcome.action, outcome.reason, outcome.steps.map((s) => s.status)]).toEqual([action, reason, statuses]);
  });

  it('says why it failed, and applies the retry policy', () => {
    const view: DeviceView = { execution: inProgress(), job: firmwareJob({ retries: [{ failureType: 'FAILED', maxAttempts: 2 }] }), inProgress: inProgress() };
    const { steps } = reconcileExecution(view, { firmwareVersion: '1.9.0', jobId: 'job-1' }, true, T0);
    expect(steps.map((s) => [s.status, s.attempt])).toEqual([['FAILED', 1], ['QUEUED', 2]]);
    expect(steps[0]?.statusDetails).toEqual({ reason: 'RebootedIntoOldVersion', firmwareVersion: '1.9.0', expectedVersion: '2.0.0' });
  });

  // After it succeeded, the device's execution is final: reconcile leaves it, and a staged rollout
  // counts a device found back on the old version against its health gate.
  it.each<[string, ReturnType<typeof firmwareJob>, ExecutionStatus, string, boolean]>([
    ['updated, now runs the old version', firmwareJob(), 'SUCCEEDED', '1.9.0', true],
    ['updated, runs the target', firmwareJob(), 'SUCCEEDED', '2.0.0', false],
    ['failed: the failure already counts', firmwareJob(), 'FAILED', '1.9.0', false],
    ['still installing', firmwareJob(), 'IN_PROGRESS', '1.9.0', false],
    ['not a firmware job', job(), 'SUCCEEDED', '1.9.0', false],
  ])('fell back to the old version: %s', (_name, j, status, version, expected) => {
    expect(fellBackToOldVersion(j, status, version)).toBe(expected);
  });
});
