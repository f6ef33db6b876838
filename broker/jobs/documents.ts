/**
 * Records → wire payloads (device-sdk/protocol/jobs.ts). The job document is made per device
 * when it is delivered: a config job's envelope is signed for that device at that moment.
 */
import type { ExecutionSummary, JobDocument, JobExecution, JobExecutionEvent } from '../../device-sdk/protocol/jobs.js';
import type { ConfigSigner } from './config-envelope.js';
import type { ExecutionRecord, JobRecord } from './model.js';

export const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export function toSummary(e: ExecutionRecord): ExecutionSummary {
  return {
    jobId: e.jobId,
    status: e.status,
    queuedAt: iso(e.queuedAt),
    startedAt: isoOrNull(e.startedAt),
    lastUpdatedAt: iso(e.updatedAt),
    versionNumber: e.versionNumber,
    executionNumber: e.attempt,
  };
}

export async function renderDocument(job: JobRecord, deviceId: string, signer: ConfigSigner, now: number): Promise<JobDocument> {
  switch (job.type) {
    case 'firmware': {
      const f = job.firmware!;
      return { type: 'firmware', firmwareId: f.id, version: f.version, deviceClass: f.deviceClass, size: f.size, ...(f.manifest ? { manifest: f.manifest } : {}) };
    }
    case 'config':
      return { type: 'config', envelope: await signer({ deviceId, jobId: job.id, config: job.config ?? {} }, now) };
    case 'custom':
      return { type: 'custom', document: job.document ?? {} };
  }
}

export async function toJobExecution(e: ExecutionRecord, job: JobRecord, signer: ConfigSigner, now: number): Promise<JobExecution> {
  return {
    ...toSummary(e),
    deviceId: e.deviceId,
    statusDetails: e.statusDetails,
    progress: e.progress,
    jobDocument: await renderDocument(job, e.deviceId, signer, now),
  };
}

export function toEvent(e: ExecutionRecord): JobExecutionEvent {
  return {
    jobId: e.jobId,
    deviceId: e.deviceId,
    status: e.status,
    versionNumber: e.versionNumber,
    executionNumber: e.attempt,
    statusDetails: e.statusDetails,
    progress: e.progress,
    at: iso(e.updatedAt),
  };
}
