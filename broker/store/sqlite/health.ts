import type { Database } from 'better-sqlite3';
import type { HealthReport } from '../../../device-sdk/protocol/index.js';
import type { HealthRepo } from '../types.js';
import type { WriteBatcher } from './write-batcher.js';

export function createHealthRepo(db: Database, writer: WriteBatcher, historyLimit: number): HealthRepo {
  const upsertLatest = db.prepare(
    `INSERT INTO health_latest (device_id, received_at, report, firmware_version) VALUES (?, ?, ?, ?)
     ON CONFLICT (device_id) DO UPDATE SET received_at = excluded.received_at, report = excluded.report,
       firmware_version = COALESCE(excluded.firmware_version, health_latest.firmware_version)`,
  );
  const insertHistory = db.prepare('INSERT INTO health_history (device_id, received_at, report) VALUES (?, ?, ?)');
  // Bounded history: drop what falls off the end with each insert (an indexed range delete).
  const trimHistory = db.prepare(
    `DELETE FROM health_history WHERE device_id = ? AND id <= (
       SELECT id FROM health_history WHERE device_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
  );
  const selectLatest = db.prepare<[string], { received_at: string; report: string }>(
    'SELECT received_at, report FROM health_latest WHERE device_id = ?',
  );
  return {
    record(deviceId, report, at) {
      const iso = at.toISOString();
      const json = JSON.stringify(report);
      return writer.enqueue(() => {
        upsertLatest.run(deviceId, iso, json, report.firmwareVersion ?? null);
        insertHistory.run(deviceId, iso, json);
        trimHistory.run(deviceId, deviceId, historyLimit);
      });
    },
    async latest(deviceId) {
      // Prepared once: every health report reads its predecessor (reboot detection, health/boots.ts).
      const row = selectLatest.get(deviceId);
      return row ? { receivedAt: row.received_at, report: JSON.parse(row.report) as HealthReport } : undefined;
    },
    async history(deviceId, limit) {
      return db
        .prepare<[string, number], { received_at: string; report: string }>(
          'SELECT received_at, report FROM health_history WHERE device_id = ? ORDER BY id DESC LIMIT ?',
        )
        .all(deviceId, limit)
        .map((r) => ({ receivedAt: r.received_at, report: JSON.parse(r.report) as HealthReport }));
    },
    async firmwareVersions() {
      const rows = db
        .prepare<[], { device_id: string; firmware_version: string }>(
          'SELECT device_id, firmware_version FROM health_latest WHERE firmware_version IS NOT NULL',
        )
        .all();
      return new Map(rows.map((r) => [r.device_id, r.firmware_version]));
    },
  };
}
