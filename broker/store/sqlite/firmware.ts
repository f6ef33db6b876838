/**
 * SQLite implementation of the firmware repos (`broker/firmware/store.ts`). Rows are small and
 * written rarely (an upload, a key change), so writes run directly rather than through the
 * group-commit batcher; `synchronous = FULL` makes each one durable before its promise resolves.
 */
import type { Database } from 'better-sqlite3';
import { BatonError } from '../../../device-sdk/protocol/errors.js';
import type { FirmwareKeyRepo, FirmwareRepo, FirmwareRow, InsertResult, KeyRow } from '../../firmware/store.js';

interface Row {
  id: string;
  device_class: string;
  version: string;
  sha256: string;
  sequence: number;
  security_counter: number;
  signed_by: FirmwareRow['signedBy'];
  manifest: string;
  created_at: string;
}

const toRow = (r: Row): FirmwareRow => ({
  id: r.id,
  deviceClass: r.device_class,
  version: r.version,
  sha256: r.sha256,
  sequence: r.sequence,
  securityCounter: r.security_counter,
  signedBy: r.signed_by,
  manifest: r.manifest,
  createdAt: r.created_at,
});

export function createSqliteFirmwareRepo(db: Database): FirmwareRepo {
  const byId = db.prepare<[string], Row>('SELECT * FROM firmware WHERE id = ?');
  const byClassVersion = db.prepare<[string, string], Row>('SELECT * FROM firmware WHERE device_class = ? AND version = ?');
  const highest = db.prepare<[string], { sequence: number | null; security_counter: number | null }>(
    'SELECT MAX(sequence) AS sequence, MAX(security_counter) AS security_counter FROM firmware WHERE device_class = ?',
  );
  const insertRow = db.prepare(
    `INSERT INTO firmware (id, device_class, version, sha256, sequence, security_counter, signed_by, manifest, created_at)
     VALUES (@id, @deviceClass, @version, @sha256, @sequence, @securityCounter, @signedBy, @manifest, @createdAt)`,
  );
  const highestOf = (deviceClass: string) => {
    const r = highest.get(deviceClass);
    return r?.sequence == null ? undefined : { sequence: r.sequence, securityCounter: r.security_counter ?? 0 };
  };

  const insert = db.transaction((row: FirmwareRow): InsertResult => {
    const existing = byClassVersion.get(row.deviceClass, row.version);
    if (existing) return { created: false, existing: toRow(existing) };
    const top = highestOf(row.deviceClass);
    if (top && row.sequence <= top.sequence) {
      throw new BatonError('Conflict', `Sequence ${row.sequence} is not above ${top.sequence}, the highest of device class ${row.deviceClass}.`);
    }
    insertRow.run(row);
    return { created: true, row };
  });

  return {
    async get(id) {
      const r = byId.get(id);
      return r ? toRow(r) : undefined;
    },
    async list({ deviceClass, afterId, limit }) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (deviceClass !== undefined) {
        where.push('device_class = ?');
        params.push(deviceClass);
      }
      if (afterId !== undefined) {
        where.push('id > ?');
        params.push(afterId);
      }
      const sql = `SELECT * FROM firmware ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
      return db.prepare<unknown[], Row>(sql).all(...params, limit).map(toRow);
    },
    async highest(deviceClass) {
      return highestOf(deviceClass);
    },
    async insert(row) {
      return insert(row);
    },
    async delete(id) {
      return db.prepare('DELETE FROM firmware WHERE id = ?').run(id).changes > 0;
    },
    async countBySha256(sha256) {
      return (db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM firmware WHERE sha256 = ?').get(sha256)?.n) ?? 0;
    },
  };
}

interface KeyDbRow {
  key_id: string;
  algorithm: KeyRow['algorithm'];
  public_key_pem: string;
  source: KeyRow['source'];
  created_at: string;
  retired_at: string | null;
  retires_at: string | null;
}

export function createSqliteFirmwareKeyRepo(db: Database): FirmwareKeyRepo {
  return {
    async list() {
      return db.prepare<[], KeyDbRow>('SELECT * FROM firmware_keys ORDER BY created_at, key_id').all().map((r) => ({
        keyId: r.key_id,
        algorithm: r.algorithm,
        publicKeyPem: r.public_key_pem,
        source: r.source,
        createdAt: r.created_at,
        retiredAt: r.retired_at,
        retiresAt: r.retires_at,
      }));
    },
    async put(k) {
      db.prepare(
        `INSERT INTO firmware_keys (key_id, algorithm, public_key_pem, source, created_at, retired_at, retires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key_id) DO UPDATE SET retired_at = excluded.retired_at, retires_at = excluded.retires_at`,
      ).run(k.keyId, k.algorithm, k.publicKeyPem, k.source, k.createdAt, k.retiredAt, k.retiresAt);
    },
  };
}
