/**
 * The SQLite side of staged rollouts (006_rollouts.sql): the scheduler's persisted state per job,
 * sites' own maintenance windows, and the reads the rollout adapter needs to build a scheduler
 * (a job's targets with their site, attributes, presence and reported link; its executions).
 *
 * Reads are synchronous (better-sqlite3 answers in the calling thread), so the adapter loads a
 * scheduler and reconciles it with the executions in one turn, with no status change in between.
 * Writes go through the group commit, ordered with the jobs feature's own writes.
 */
import type { Database } from 'better-sqlite3';
import type { ExecutionStatus } from '../../../device-sdk/protocol/jobs.js';
import type { JsonObject } from '../../../device-sdk/protocol/json.js';
import type { WriteBatcher } from './write-batcher.js';

export interface RolloutTargetRow {
  id: string;
  site: string | null;
  attributes: JsonObject;
  createdAt: string;
  lastSeenAt: string | null;
  /** `linkKbps` of the device's latest health report, if it reported one. */
  linkKbps: number | null;
}

export interface RolloutExecutionRow {
  deviceId: string;
  status: ExecutionStatus;
  admittedAt: number | null;
  updatedAt: number;
  bytesDelivered: number;
}

/** A rollout's row as stored: its JSON is decoded and checked by the reader (broker/rollouts/persistence.ts). */
export interface StoredRollout {
  jobId: string;
  configJson: string;
  stateJson: string;
  phase: string;
  updatedAt: number;
}

export interface RolloutSiteRow {
  id: string;
  uplinkBytesPerSec: number;
  timeZone: string | null;
  windows: unknown[] | null;
}

export interface RolloutRepo {
  get(jobId: string): StoredRollout | undefined;
  /** The first save of a job's rollout, its config with its state; replaces a row whose config could not be read. */
  insert(jobId: string, configJson: string, stateJson: string, phase: string, now: number): Promise<void>;
  update(jobId: string, stateJson: string, phase: string, now: number): Promise<void>;
  /** Every device the job has an execution for, in queue order, with what the scheduler needs of it. */
  targets(jobId: string): RolloutTargetRow[];
  /** The same facts for devices by id (a dry run has no executions); unknown ids are skipped. */
  devices(ids: readonly string[]): RolloutTargetRow[];
  /** The job matched the device but excluded it (incompatible). */
  excluded(jobId: string, deviceId: string): boolean;
  executions(jobId: string): RolloutExecutionRow[];
  sites(): RolloutSiteRow[];
  siteWindows(siteId: string): unknown[] | undefined;
  setSiteWindows(siteId: string, windows: unknown[] | null, now: number): Promise<void>;
}

const parseJson = <T>(text: string | null, fallback: T): T => {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
};

const toTargetRow = (r: { id: string; site: string | null; attributes: string; created_at: string; last_seen_at: string | null; link: number | null }): RolloutTargetRow => ({
  id: r.id,
  site: r.site,
  attributes: parseJson<JsonObject>(r.attributes, {}),
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  linkKbps: typeof r.link === 'number' ? r.link : null,
});

export function createSqliteRolloutRepo(db: Database, writer: WriteBatcher): RolloutRepo {
  const q = {
    get: db.prepare<[string], { job_id: string; config_json: string; state_json: string; phase: string; updated_at: number }>('SELECT * FROM rollouts WHERE job_id = ?'),
    insert: db.prepare(
      `INSERT INTO rollouts (job_id, config_json, state_json, phase, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (job_id) DO UPDATE SET config_json = excluded.config_json, state_json = excluded.state_json, phase = excluded.phase, updated_at = excluded.updated_at`,
    ),
    update: db.prepare('UPDATE rollouts SET state_json = ?, phase = ?, updated_at = ? WHERE job_id = ?'),
    targets: db.prepare<[string], { id: string; site: string | null; attributes: string; created_at: string; last_seen_at: string | null; link: number | null }>(
      `SELECT e.device_id AS id, d.site, COALESCE(d.attributes, '{}') AS attributes, COALESCE(d.created_at, '') AS created_at, d.last_seen_at,
              json_extract(h.report, '$.linkKbps') AS link
       FROM job_executions e LEFT JOIN devices d ON d.id = e.device_id LEFT JOIN health_latest h ON h.device_id = e.device_id
       WHERE e.job_id = ? ORDER BY e.seq`,
    ),
    device: db.prepare<[string], { id: string; site: string | null; attributes: string; created_at: string; last_seen_at: string | null; link: number | null }>(
      `SELECT d.id, d.site, d.attributes, d.created_at, d.last_seen_at, json_extract(h.report, '$.linkKbps') AS link
       FROM devices d LEFT JOIN health_latest h ON h.device_id = d.id WHERE d.id = ?`,
    ),
    excluded: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM job_exclusions WHERE job_id = ? AND device_id = ?'),
    executions: db.prepare<[string], { device_id: string; status: ExecutionStatus; admitted_at: number | null; updated_at: number; bytes_delivered: number }>(
      'SELECT device_id, status, admitted_at, updated_at, bytes_delivered FROM job_executions WHERE job_id = ? ORDER BY seq',
    ),
    sites: db.prepare<[], { id: string; uplink_bytes_per_sec: number; time_zone: string | null; windows_json: string | null }>(
      'SELECT s.id, s.uplink_bytes_per_sec, s.time_zone, w.windows_json FROM sites s LEFT JOIN rollout_site_windows w ON w.site_id = s.id ORDER BY s.id',
    ),
    siteWindows: db.prepare<[string], { windows_json: string }>('SELECT windows_json FROM rollout_site_windows WHERE site_id = ?'),
    putSiteWindows: db.prepare(
      `INSERT INTO rollout_site_windows (site_id, windows_json, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (site_id) DO UPDATE SET windows_json = excluded.windows_json, updated_at = excluded.updated_at`,
    ),
    deleteSiteWindows: db.prepare('DELETE FROM rollout_site_windows WHERE site_id = ?'),
  };

  return {
    get(jobId) {
      const row = q.get.get(jobId);
      if (!row) return undefined;
      return { jobId: row.job_id, configJson: row.config_json, stateJson: row.state_json, phase: row.phase, updatedAt: row.updated_at };
    },
    insert: (jobId, configJson, stateJson, phase, now) => writer.enqueue(() => void q.insert.run(jobId, configJson, stateJson, phase, now)),
    update: (jobId, stateJson, phase, now) => writer.enqueue(() => void q.update.run(stateJson, phase, now, jobId)),
    targets: (jobId) => q.targets.all(jobId).map(toTargetRow),
    devices: (ids) => ids.flatMap((id) => {
      const row = q.device.get(id);
      return row ? [toTargetRow(row)] : [];
    }),
    excluded: (jobId, deviceId) => q.excluded.get(jobId, deviceId) !== undefined,
    executions: (jobId) =>
      q.executions.all(jobId).map((r) => ({ deviceId: r.device_id, status: r.status, admittedAt: r.admitted_at, updatedAt: r.updated_at, bytesDelivered: r.bytes_delivered })),
    sites: () =>
      q.sites.all().map((r) => ({ id: r.id, uplinkBytesPerSec: r.uplink_bytes_per_sec, timeZone: r.time_zone, windows: parseJson<unknown[] | null>(r.windows_json, null) })),
    siteWindows: (siteId) => {
      const row = q.siteWindows.get(siteId);
      return row ? parseJson<unknown[]>(row.windows_json, []) : undefined;
    },
    setSiteWindows: (siteId, windows, now) =>
      writer.enqueue(() => {
        if (windows === null) q.deleteSiteWindows.run(siteId);
        else q.putSiteWindows.run(siteId, JSON.stringify(windows), now);
      }),
  };
}
