import type { Database } from 'better-sqlite3';
import type { Transport } from '../../../device-sdk/protocol/index.js';
import type { ConnectionRepo } from '../types.js';
import type { WriteBatcher } from './write-batcher.js';

export function createConnectionRepo(db: Database, writer: WriteBatcher): ConnectionRepo {
  const insert = db.prepare(
    'INSERT INTO connection_events (device_id, event, at, remote_address, transport, reason) VALUES (?, ?, ?, ?, ?, ?)',
  );
  return {
    record(e) {
      return writer.enqueue(() => {
        insert.run(e.deviceId, e.event, e.at.toISOString(), e.remoteAddress, e.transport, e.reason ?? null);
      });
    },
    async recent(deviceId, limit) {
      const rows = db
        .prepare<[string, number], { event: 'connected' | 'disconnected'; at: string; remote_address: string; transport: Transport; reason: string | null }>(
          'SELECT event, at, remote_address, transport, reason FROM connection_events WHERE device_id = ? ORDER BY id DESC LIMIT ?',
        )
        .all(deviceId, limit);
      return rows.map((r) => ({ event: r.event, at: r.at, remoteAddress: r.remote_address, transport: r.transport, reason: r.reason }));
    },
  };
}
