import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Store } from '../types.js';
import { migrate } from './migrate.js';
import { WriteBatcher, type BatchStats } from './write-batcher.js';
import { createDeviceRepo } from './devices.js';
import { createTokenRepo } from './tokens.js';
import { createSiteRepo } from './sites.js';
import { createTelemetryRepo } from './telemetry.js';
import { createHealthRepo } from './health.js';
import { createConnectionRepo } from './connections.js';

export interface SqliteStoreOptions {
  dataDir: string;
  healthHistoryLimit: number;
  maxBatch?: number;
  onCommit?: (stats: BatchStats) => void;
}

export type SqliteStore = Store & { db: Database.Database; writer: WriteBatcher };

/**
 * Opens (creating if needed) `{dataDir}/baton.db` in WAL mode with `synchronous = FULL`: a commit
 * is fsynced before the write's promise resolves, so an acknowledged write survives a kill -9 and
 * a power cut. Group commit keeps that to one fsync per batch.
 */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  mkdirSync(options.dataDir, { recursive: true });
  const db = new Database(join(options.dataDir, 'baton.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  const writer = new WriteBatcher(db, { maxBatch: options.maxBatch ?? 1000, onCommit: options.onCommit });
  let open = true;
  return {
    db,
    writer,
    devices: createDeviceRepo(db, writer),
    tokens: createTokenRepo(db),
    sites: createSiteRepo(db),
    telemetry: createTelemetryRepo(db, writer),
    health: createHealthRepo(db, writer, options.healthHistoryLimit),
    connections: createConnectionRepo(db, writer),
    isOpen: () => open,
    async flush() {
      writer.flush();
    },
    async close() {
      if (!open) return;
      writer.flush();
      open = false;
      db.close();
    },
  };
}
