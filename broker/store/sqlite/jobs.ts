/**
 * The SQLite JobRepo (005_jobs.sql). Changes run inside the group commit (write-batcher.ts): each
 * read-modify-write is one savepoint of the batch's transaction, so it sees every change queued
 * before it and its promise resolves once the batch is fsynced. Reads outside a change answer
 * from what is committed.
 */
import type { Database, Statement } from 'better-sqlite3';
import { BatonError } from '../../../device-sdk/protocol/errors.js';
import type { ExecutionStatus, JobStatus, Progress } from '../../../device-sdk/protocol/jobs.js';
import { EXECUTION_STATUSES } from '../../../device-sdk/protocol/jobs.js';
import type { JsonObject } from '../../../device-sdk/protocol/json.js';
import type { Steps } from '../../jobs/executions.js';
import type { ExecutionCounts, ExecutionRecord, Exclusion, JobDefinition, JobRecord } from '../../jobs/model.js';
import type { ExecutionListFilter, JobChange, JobListFilter, JobRepo } from '../../jobs/repo.js';
import { deadlineOf } from '../../jobs/timeouts.js';
import type { WriteBatcher } from './write-batcher.js';

interface JobRow {
  seq: number; id: string; type: string; status: JobStatus; firmware_id: string | null; continuous: number;
  definition_json: string; reason: string | null; force_canceled: number; created_at: number; updated_at: number; completed_at: number | null;
}

interface ExecutionRow {
  seq: number; job_id: string; device_id: string; status: ExecutionStatus; version_number: number; attempt: number;
  status_details: string | null; progress: string | null; queued_at: number; started_at: number | null; updated_at: number;
  completed_at: number | null; admitted_at: number | null; step_deadline: number | null; in_progress_deadline: number | null; bytes_delivered: number;
}

const parse = <T>(json: string | null): T | null => (json === null ? null : (JSON.parse(json) as T));

const toExecution = (r: ExecutionRow): ExecutionRecord => ({
  jobId: r.job_id, deviceId: r.device_id, seq: r.seq, status: r.status, versionNumber: r.version_number, attempt: r.attempt,
  statusDetails: parse<JsonObject>(r.status_details), progress: parse<Progress>(r.progress),
  queuedAt: r.queued_at, startedAt: r.started_at, updatedAt: r.updated_at, completedAt: r.completed_at, admittedAt: r.admitted_at,
  stepDeadline: r.step_deadline, inProgressDeadline: r.in_progress_deadline, bytesDelivered: r.bytes_delivered,
});

const UNFINISHED = "('QUEUED', 'IN_PROGRESS')";
const ACTIVE_JOB = "('SCHEDULED', 'IN_PROGRESS', 'PAUSED')";

export function createSqliteJobRepo(db: Database, writer: WriteBatcher): JobRepo {
  // A definition never changes after creation: parse it once.
  const definitions = new Map<string, JobDefinition>();
  const toJob = (r: JobRow): JobRecord => {
    let definition = definitions.get(r.id);
    if (!definition) definitions.set(r.id, (definition = JSON.parse(r.definition_json) as JobDefinition));
    return {
      ...definition, seq: r.seq, status: r.status, reason: r.reason, forceCanceled: r.force_canceled === 1,
      createdAt: r.created_at, updatedAt: r.updated_at, completedAt: r.completed_at,
    };
  };
  const q = {
    job: db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE id = ?'),
    putJob: db.prepare('UPDATE jobs SET status = ?, reason = ?, force_canceled = ?, updated_at = ?, completed_at = ? WHERE id = ?'),
    execution: db.prepare<[string, string], ExecutionRow>('SELECT * FROM job_executions WHERE job_id = ? AND device_id = ?'),
    pending: db.prepare<[string], ExecutionRow>(
      `SELECT * FROM job_executions WHERE device_id = ? AND status IN ${UNFINISHED} AND admitted_at IS NOT NULL ORDER BY status = 'IN_PROGRESS' DESC, seq`,
    ),
    hasPending: db.prepare<[string], { one: number }>(`SELECT 1 AS one FROM job_executions WHERE job_id = ? AND status IN ${UNFINISHED} LIMIT 1`),
    putExecution: db.prepare(
      `UPDATE job_executions SET status = ?, version_number = ?, attempt = ?, status_details = ?, progress = ?, started_at = ?, updated_at = ?,
       completed_at = ?, admitted_at = ?, step_deadline = ?, in_progress_deadline = ?, deadline = ? WHERE seq = ?`,
    ),
    insertExecution: db.prepare(
      `INSERT OR IGNORE INTO job_executions (job_id, device_id, status, version_number, attempt, queued_at, updated_at) VALUES (?, ?, 'QUEUED', 1, 1, ?, ?)`,
    ),
    insertExclusion: db.prepare('INSERT OR IGNORE INTO job_exclusions (job_id, device_id, reason, device_class) VALUES (?, ?, ?, ?)'),
    deleteExclusion: db.prepare('DELETE FROM job_exclusions WHERE job_id = ? AND device_id = ?'),
    admit: db.prepare<[number, string, string], ExecutionRow>(
      `UPDATE job_executions SET admitted_at = ? WHERE job_id = ? AND device_id = ? AND status = 'QUEUED' AND admitted_at IS NULL RETURNING *`,
    ),
  };
  const getJob = (id: string) => {
    const row = q.job.get(id);
    return row ? toJob(row) : undefined;
  };
  const putJob = (j: JobRecord) => q.putJob.run(j.status, j.reason, j.forceCanceled ? 1 : 0, j.updatedAt, j.completedAt, j.id);
  const putExecution = (e: ExecutionRecord) =>
    q.putExecution.run(
      e.status, e.versionNumber, e.attempt, e.statusDetails && JSON.stringify(e.statusDetails), e.progress && JSON.stringify(e.progress),
      e.startedAt, e.updatedAt, e.completedAt, e.admittedAt, e.stepDeadline, e.inProgressDeadline, deadlineOf(e), e.seq,
    );
  const putLast = (steps: Steps) => {
    const last = steps.at(-1);
    if (last) putExecution(last);
  };
  const insertTargets = (jobId: string, deviceIds: readonly string[], exclusions: readonly Exclusion[], now: number): string[] => {
    const added = deviceIds.filter((id) => q.insertExecution.run(jobId, id, now, now).changes > 0);
    // A device excluded once (e.g. of another class) that now qualifies is excluded no more.
    for (const id of added) q.deleteExclusion.run(jobId, id);
    for (const x of exclusions) q.insertExclusion.run(jobId, x.deviceId, x.reason, x.deviceClass);
    return added;
  };
  /** Runs `work` inside the group commit and resolves with its result once durable. */
  const inWrite = async <T>(work: () => T): Promise<T> => {
    let result!: T;
    await writer.enqueue(() => {
      result = work();
    });
    return result;
  };
  const executions = (stmt: Statement<unknown[], ExecutionRow>, ...params: unknown[]) => stmt.all(...params).map(toExecution);
  const listWhere = (column: 'job_id' | 'device_id', value: string, f: ExecutionListFilter) =>
    executions(
      db.prepare(`SELECT * FROM job_executions WHERE ${column} = ? ${f.status ? 'AND status = ?' : ''} AND seq > ? ORDER BY seq LIMIT ?`),
      ...[value, ...(f.status ? [f.status] : []), f.afterSeq ?? 0, f.limit],
    );

  return {
    create: (job, deviceIds, exclusions) =>
      inWrite(() => {
        const { status, reason, forceCanceled, createdAt, updatedAt, completedAt, ...definition } = job;
        let seq: number;
        try {
          seq = Number(db.prepare(
            `INSERT INTO jobs (id, type, status, firmware_id, continuous, definition_json, reason, force_canceled, created_at, updated_at, completed_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          ).run(job.id, job.type, status, job.firmware?.id ?? null, job.continuous ? 1 : 0, JSON.stringify(definition), reason, forceCanceled ? 1 : 0, createdAt, updatedAt, completedAt).lastInsertRowid);
        } catch (err) {
          if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new BatonError('Conflict', `job ${job.id} already exists`);
          throw err;
        }
        insertTargets(job.id, deviceIds, exclusions, createdAt);
        return { ...job, seq };
      }),
    getJob: async (id) => getJob(id),
    async listJobs(f: JobListFilter) {
      const where = ['seq > ?'];
      const params: unknown[] = [f.afterSeq ?? 0];
      if (f.status) where.push('status = ?'), params.push(f.status);
      if (f.type) where.push('type = ?'), params.push(f.type);
      if (f.firmwareId) where.push('firmware_id = ?'), params.push(f.firmwareId);
      return (db.prepare(`SELECT * FROM jobs WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`).all(...params, f.limit) as JobRow[]).map(toJob);
    },
    activeJobs: async () => (db.prepare(`SELECT * FROM jobs WHERE status IN ${ACTIVE_JOB} ORDER BY seq`).all() as JobRow[]).map(toJob),
    async counts(jobId) {
      const rows = db.prepare('SELECT status, admitted_at IS NULL AS waiting, COUNT(*) AS n FROM job_executions WHERE job_id = ? GROUP BY 1, 2')
        .all(jobId) as { status: ExecutionStatus; waiting: number; n: number }[];
      const counts = Object.fromEntries([...EXECUTION_STATUSES.map((s) => [s, 0]), ['waiting', 0]]) as ExecutionCounts;
      for (const r of rows) {
        counts[r.status] += r.n;
        if (r.waiting && r.status === 'QUEUED') counts.waiting += r.n;
      }
      return counts;
    },
    bytesDelivered: async (jobId) =>
      (db.prepare('SELECT COALESCE(SUM(bytes_delivered), 0) AS n FROM job_executions WHERE job_id = ?').get(jobId) as { n: number }).n,
    async exclusions(jobId, limit) {
      const total = (db.prepare('SELECT COUNT(*) AS n FROM job_exclusions WHERE job_id = ?').get(jobId) as { n: number }).n;
      const rows = db.prepare('SELECT device_id, reason, device_class FROM job_exclusions WHERE job_id = ? ORDER BY device_id LIMIT ?')
        .all(jobId, limit) as { device_id: string; reason: 'incompatible'; device_class: string | null }[];
      return { total, items: rows.map((r) => ({ deviceId: r.device_id, reason: r.reason, deviceClass: r.device_class })) };
    },
    async knownDevices(jobId) {
      const rows = db.prepare('SELECT device_id FROM job_executions WHERE job_id = ? UNION SELECT device_id FROM job_exclusions WHERE job_id = ?')
        .pluck().all(jobId, jobId) as string[];
      return new Set(rows);
    },
    devicesIn: async (jobId, status) =>
      db.prepare('SELECT device_id FROM job_executions WHERE job_id = ? AND status = ?').pluck().all(jobId, status) as string[],
    addTargets: (jobId, deviceIds, exclusions, now) => inWrite(() => insertTargets(jobId, deviceIds, exclusions, now)),

    getExecution: async ({ jobId, deviceId }) => {
      const row = q.execution.get(jobId, deviceId);
      return row ? toExecution(row) : undefined;
    },
    listExecutions: async (jobId, f) => listWhere('job_id', jobId, f),
    deviceExecutions: async (deviceId, f) => listWhere('device_id', deviceId, f),
    pending: async (deviceId) => executions(q.pending, deviceId),
    waiting: async (jobId, limit) =>
      executions(db.prepare(`SELECT * FROM job_executions WHERE job_id = ? AND status = 'QUEUED' AND admitted_at IS NULL ORDER BY seq LIMIT ?`), jobId, limit),
    admit: (jobId, deviceIds, now) =>
      inWrite(() => deviceIds.flatMap((id) => {
        const row = q.admit.get(now, jobId, id);
        return row ? [toExecution(row)] : [];
      })),
    expired: async (now, limit) =>
      (db.prepare(`SELECT job_id, device_id FROM job_executions WHERE status = 'IN_PROGRESS' AND deadline IS NOT NULL AND deadline <= ? ORDER BY deadline LIMIT ?`)
        .all(now, limit) as { job_id: string; device_id: string }[]).map((r) => ({ jobId: r.job_id, deviceId: r.device_id })),
    orphaned: async (limit) =>
      (db.prepare(`SELECT job_id, device_id FROM job_executions e WHERE status IN ${UNFINISHED} AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.id = e.device_id) LIMIT ?`)
        .all(limit) as { job_id: string; device_id: string }[]).map((r) => ({ jobId: r.job_id, deviceId: r.device_id })),

    changeExecution: (deviceId, select, change) =>
      inWrite(() => {
        const pending = executions(q.pending, deviceId);
        const inProgress = pending.find((e) => e.status === 'IN_PROGRESS');
        const row = select === 'next' ? undefined : q.execution.get(select.jobId, deviceId);
        const execution = select === 'next' ? pending[0] : row && toExecution(row);
        const jobId = execution?.jobId ?? (select === 'next' ? undefined : select.jobId);
        const result = change({ execution, job: jobId === undefined ? undefined : getJob(jobId), inProgress });
        putLast(result.steps);
        return result;
      }),
    changeJob: (jobId, change, each) =>
      inWrite((): JobChange => {
        const before = getJob(jobId);
        if (!before) throw new BatonError('NotFound', `job ${jobId} does not exist`);
        const job = change(before, q.hasPending.get(jobId) !== undefined);
        if (job !== before) putJob(job);
        const changed: Steps[] = [];
        if (each) {
          const rows = db.prepare('SELECT * FROM job_executions WHERE job_id = ? AND status IN (SELECT value FROM json_each(?)) ORDER BY seq')
            .all(jobId, JSON.stringify(each.statuses)) as ExecutionRow[];
          for (const row of rows) {
            const steps = each.each(toExecution(row), job);
            putLast(steps);
            if (steps.length > 0) changed.push(steps);
          }
        }
        return { before, job, executions: changed };
      }),

    addBytesDelivered: (deviceId, firmwareId, bytes) =>
      writer.enqueue(() => {
        db.prepare(
          `UPDATE job_executions SET bytes_delivered = bytes_delivered + ? WHERE device_id = ? AND status IN ${UNFINISHED}
           AND admitted_at IS NOT NULL AND job_id IN (SELECT id FROM jobs WHERE firmware_id = ?)`,
        ).run(bytes, deviceId, firmwareId);
      }),
    firmwareInUse: async (firmwareId) =>
      db.prepare(`SELECT 1 FROM jobs WHERE firmware_id = ? AND status IN ${ACTIVE_JOB} LIMIT 1`).get(firmwareId) !== undefined,
    hasActiveFirmwareExecution: async (deviceId, firmwareId) =>
      db.prepare(
        `SELECT 1 FROM job_executions e JOIN jobs j ON j.id = e.job_id WHERE e.device_id = ? AND e.status IN ${UNFINISHED}
         AND e.admitted_at IS NOT NULL AND j.firmware_id = ? LIMIT 1`,
      ).get(deviceId, firmwareId) !== undefined,
  };
}
