import type { Database } from 'better-sqlite3';
import type { JsonObject } from '../../../device-sdk/protocol/index.js';
import type { TelemetryQuery, TelemetryRepo } from '../types.js';
import type { WriteBatcher } from './write-batcher.js';

interface TelemetryRow {
  id: number;
  device_id: string;
  stream: string | null;
  received_at_ms: number;
  payload: string;
}

export function createTelemetryRepo(db: Database, writer: WriteBatcher): TelemetryRepo {
  const insert = db.prepare('INSERT INTO telemetry (device_id, stream, received_at_ms, payload) VALUES (?, ?, ?, ?)');
  return {
    append(deviceId, stream, payloadJson, at) {
      const ms = at.getTime();
      return writer.enqueue(() => {
        insert.run(deviceId, stream, ms, payloadJson);
      });
    },
    async query(q: TelemetryQuery) {
      const where = ['device_id = ?'];
      const params: unknown[] = [q.deviceId];
      // The empty string selects the default stream (`devices/{id}/telemetry`).
      if (q.stream !== undefined) {
        where.push(q.stream === '' ? 'stream IS NULL' : 'stream = ?');
        if (q.stream !== '') params.push(q.stream);
      }
      if (q.fromMs !== undefined) (where.push('received_at_ms >= ?'), params.push(q.fromMs));
      if (q.toMs !== undefined) (where.push('received_at_ms <= ?'), params.push(q.toMs));
      if (q.beforeId !== undefined) (where.push('id < ?'), params.push(q.beforeId));
      const rows = db
        .prepare(`SELECT * FROM telemetry WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`)
        .all(...params, q.limit) as TelemetryRow[];
      return rows.map((r) => ({
        id: r.id,
        deviceId: r.device_id,
        stream: r.stream,
        receivedAt: new Date(r.received_at_ms).toISOString(),
        data: JSON.parse(r.payload) as JsonObject,
      }));
    },
    prune({ maxAgeMs, maxRowsPerDevice }, now) {
      let removed = 0;
      return writer
        .enqueue(() => {
          // Assigned, not added: a write may run twice when its batch is retried (write-batcher.ts).
          removed = db.prepare('DELETE FROM telemetry WHERE received_at_ms < ?').run(now.getTime() - maxAgeMs).changes;
          // Per device, keep the newest maxRowsPerDevice rows: find the id at that rank and cut below it.
          removed += db
            .prepare(
              `DELETE FROM telemetry WHERE id IN (
                 SELECT id FROM (
                   SELECT id, ROW_NUMBER() OVER (PARTITION BY device_id ORDER BY id DESC) AS rank FROM telemetry
                 ) WHERE rank > ?)`,
            )
            .run(maxRowsPerDevice).changes;
        })
        .then(() => removed);
    },
  };
}
