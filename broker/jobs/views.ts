/** Records → the admin API's views (http-schemas.ts). Times as ISO 8601. */
import { iso } from './documents.js';
import type { ExecutionReason } from './admission.js';
import type { ExecutionCounts, ExecutionRecord, Exclusion, JobRecord } from './model.js';

const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export function toJobView(job: JobRecord) {
  const { seq: _seq, firmware, createdAt, updatedAt, completedAt, ...rest } = job;
  return {
    ...rest,
    firmwareId: firmware?.id ?? null,
    firmware: firmware && { id: firmware.id, deviceClass: firmware.deviceClass, version: firmware.version, size: firmware.size },
    createdAt: iso(createdAt),
    updatedAt: iso(updatedAt),
    completedAt: isoOrNull(completedAt),
  };
}

export function toJobDetailView(d: {
  job: JobRecord;
  counts: ExecutionCounts;
  incompatible: { total: number; items: Exclusion[] };
  bytesDelivered: number;
  pacing: { currentWave: number | null; maxPerMinute: number | null; maxConcurrent: number | null };
}) {
  const { currentWave, ...rate } = d.pacing;
  return {
    ...toJobView(d.job),
    counts: d.counts,
    incompatible: { total: d.incompatible.total, devices: d.incompatible.items.map(({ deviceId, deviceClass }) => ({ deviceId, deviceClass })) },
    bytesDelivered: d.bytesDelivered,
    currentWave,
    rate,
  };
}

/** Why a queued execution has not started: admitted and told (`notified`), or `waiting` for admission. */
const reasonOf = (e: ExecutionRecord) => (e.status !== 'QUEUED' ? null : e.admittedAt === null ? 'waiting' : 'notified');

/** `explained`: the rollout scheduler's reason (jobs it drives); without it, the plain queued reasons. */
export function toExecutionView(e: ExecutionRecord, explained?: ExecutionReason | null) {
  return {
    jobId: e.jobId,
    deviceId: e.deviceId,
    status: e.status,
    reason: explained === undefined ? reasonOf(e) : (explained?.reason ?? null),
    reasonDetails: explained?.details ?? null,
    versionNumber: e.versionNumber,
    executionNumber: e.attempt,
    statusDetails: e.statusDetails,
    progress: e.progress,
    queuedAt: iso(e.queuedAt),
    startedAt: isoOrNull(e.startedAt),
    lastUpdatedAt: iso(e.updatedAt),
    completedAt: isoOrNull(e.completedAt),
    admittedAt: isoOrNull(e.admittedAt),
    bytesDelivered: e.bytesDelivered,
  };
}

/** A page of items ordered by `seq`: the cursor is the last one's seq when the page is full. */
export const pageOf = <T extends { seq: number }, V>(items: T[], limit: number, view: (item: T) => V) => ({
  items: items.map(view),
  nextCursor: items.length === limit ? String(items.at(-1)!.seq) : null,
});
