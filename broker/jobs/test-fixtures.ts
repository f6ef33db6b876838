/** Records for the unit tests of the jobs core. */
import type { ExecutionRecord, JobRecord } from './model.js';

export const T0 = Date.parse('2026-05-01T00:00:00Z');

export function job(patch: Partial<JobRecord> = {}): JobRecord {
  return {
    id: 'job-1', seq: 1, type: 'custom', firmware: null, config: null, document: { op: 'reboot' },
    targets: { devices: ['dev-1'] }, continuous: false, timeouts: {}, retries: [], rollout: null, abort: null, schedule: null,
    description: null, status: 'IN_PROGRESS', reason: null, forceCanceled: false, createdAt: T0, updatedAt: T0, completedAt: null,
    ...patch,
  };
}

export function firmwareJob(patch: Partial<JobRecord> = {}): JobRecord {
  return job({ type: 'firmware', document: null, firmware: { id: 'pump-2.0.0-abc', deviceClass: 'pump', version: '2.0.0', size: 1000 }, ...patch });
}

export function execution(patch: Partial<ExecutionRecord> = {}): ExecutionRecord {
  return {
    jobId: 'job-1', deviceId: 'dev-1', seq: 1, status: 'QUEUED', versionNumber: 1, attempt: 1, statusDetails: null, progress: null,
    queuedAt: T0, startedAt: null, updatedAt: T0, completedAt: null, admittedAt: T0, stepDeadline: null, inProgressDeadline: null, bytesDelivered: 0,
    ...patch,
  };
}

export const inProgress = (patch: Partial<ExecutionRecord> = {}) => execution({ status: 'IN_PROGRESS', versionNumber: 2, startedAt: T0, ...patch });
