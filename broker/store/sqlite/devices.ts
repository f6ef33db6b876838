import type { Database } from 'better-sqlite3';
import type { JsonObject } from '../../../device-sdk/protocol/index.js';
import type { DeviceListFilter, DevicePatch, DeviceRecord, DeviceRepo, NewDevice } from '../types.js';
import { shadowQueryClause } from './shadows.js';
import { insertUnique } from './insert-unique.js';
import type { WriteBatcher } from './write-batcher.js';

interface DeviceRow {
  id: string;
  device_class: string | null;
  site: string | null;
  tags: string;
  attributes: string;
  created_at: string;
  updated_at: string;
  first_connected_at: string | null;
  last_seen_at: string | null;
  approval_pending: number;
}

const columns = 'id, device_class, site, tags, attributes, created_at, updated_at, first_connected_at, last_seen_at, approval_pending';

const toRecord = (r: DeviceRow): DeviceRecord => ({
  id: r.id,
  deviceClass: r.device_class,
  site: r.site,
  tags: JSON.parse(r.tags) as string[],
  attributes: JSON.parse(r.attributes) as JsonObject,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  firstConnectedAt: r.first_connected_at,
  lastSeenAt: r.last_seen_at,
  ...(r.approval_pending === 1 ? { pending: true as const } : {}),
});

/** Builds the WHERE clause of a device listing; every filter is an indexed lookup. */
function listQuery(f: DeviceListFilter): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, ...values: unknown[]) => {
    where.push(clause);
    params.push(...values);
  };
  if (f.tag !== undefined) add('id IN (SELECT device_id FROM device_tags WHERE tag = ?)', f.tag);
  if (f.deviceClass !== undefined) add('device_class = ?', f.deviceClass);
  if (f.site !== undefined) add('site = ?', f.site);
  if (f.ids !== undefined) add('id IN (SELECT value FROM json_each(?))', JSON.stringify(f.ids));
  if (f.excludeIds !== undefined) add('id NOT IN (SELECT value FROM json_each(?))', JSON.stringify(f.excludeIds));
  if (f.everConnected !== undefined) add(`first_connected_at IS ${f.everConnected ? 'NOT ' : ''}NULL`);
  if (f.approvalPending !== undefined) add('approval_pending = ?', f.approvalPending ? 1 : 0);
  if (f.certExpiresBefore !== undefined) {
    add(`id IN (SELECT device_id FROM certificates WHERE kind = 'device' AND revoked_at IS NULL
      GROUP BY device_id HAVING MAX(not_after) <= ?)`, f.certExpiresBefore);
  }
  if (f.shadow !== undefined) {
    const shadow = shadowQueryClause(f.shadow);
    add(shadow.sql, ...shadow.params);
  }
  if (f.afterId !== undefined) add('id > ?', f.afterId);
  const whereSql = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  return { sql: `SELECT ${columns} FROM devices ${whereSql} ORDER BY id LIMIT ?`, params: [...params, f.limit] };
}

export function createDeviceRepo(db: Database, writer: WriteBatcher): DeviceRepo {
  const selectOne = db.prepare<[string], DeviceRow>(`SELECT ${columns} FROM devices WHERE id = ?`);
  const insertTag = db.prepare('INSERT OR IGNORE INTO device_tags (device_id, tag) VALUES (?, ?)');
  const setTags = (id: string, tags: string[]) => {
    db.prepare('DELETE FROM device_tags WHERE device_id = ?').run(id);
    for (const tag of tags) insertTag.run(id, tag);
  };
  const markConnected = db.prepare(
    'UPDATE devices SET last_seen_at = ?, first_connected_at = COALESCE(first_connected_at, ?) WHERE id = ?',
  );
  const touch = db.prepare('UPDATE devices SET last_seen_at = ? WHERE id = ?');
  const get = (id: string) => {
    const row = selectOne.get(id);
    return row ? toRecord(row) : undefined;
  };

  return {
    async create(d: NewDevice, now: Date) {
      const at = now.toISOString();
      const tags = [...new Set(d.tags ?? [])];
      insertUnique(
        db.transaction(() => {
          db.prepare(
            `INSERT INTO devices (id, device_class, site, tags, attributes, secret_hash, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          ).run(d.id, d.deviceClass ?? null, d.site ?? null, JSON.stringify(tags), JSON.stringify(d.attributes ?? {}), d.secretHash, at, at);
          setTags(d.id, tags);
        }),
        `device ${d.id}`,
      );
      return get(d.id)!;
    },
    async get(id) {
      return get(id);
    },
    async getSecretHash(id) {
      const row = db.prepare<[string], { secret_hash: Buffer }>('SELECT secret_hash FROM devices WHERE id = ?').get(id);
      return row?.secret_hash;
    },
    async setSecretHash(id, hash, now) {
      return db.prepare('UPDATE devices SET secret_hash = ?, updated_at = ? WHERE id = ?').run(hash, now.toISOString(), id).changes > 0;
    },
    async list(filter) {
      const { sql, params } = listQuery(filter);
      return (db.prepare(sql).all(...params) as DeviceRow[]).map(toRecord);
    },
    async update(id, patch: DevicePatch, now) {
      const current = get(id);
      if (!current) return undefined;
      // Only the fields the patch names change; an absent (undefined) field keeps its value.
      const named = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      const next = { ...current, ...named };
      db.transaction(() => {
        db.prepare('UPDATE devices SET device_class = ?, site = ?, tags = ?, attributes = ?, updated_at = ? WHERE id = ?').run(
          next.deviceClass, next.site, JSON.stringify(next.tags), JSON.stringify(next.attributes), now.toISOString(), id,
        );
        if (patch.tags) setTags(id, next.tags);
      })();
      return get(id);
    },
    async delete(id) {
      return db.prepare('DELETE FROM devices WHERE id = ?').run(id).changes > 0;
    },
    recordSeen(id, at, connecting) {
      const iso = at.toISOString();
      return writer.enqueue(() => {
        if (connecting) markConnected.run(iso, iso, id);
        else touch.run(iso, id);
      });
    },
    async countBy(column) {
      const rows = db.prepare(`SELECT ${column} AS k, COUNT(*) AS n FROM devices GROUP BY ${column}`).all() as { k: string | null; n: number }[];
      return Object.fromEntries(rows.map((r) => [r.k ?? '(none)', r.n]));
    },
    async count(filter = {}) {
      const where: string[] = [];
      if (filter.everConnected !== undefined) where.push(`first_connected_at IS ${filter.everConnected ? 'NOT ' : ''}NULL`);
      if (filter.approvalPending !== undefined) where.push(`approval_pending = ${filter.approvalPending ? 1 : 0}`);
      const sql = `SELECT COUNT(*) AS n FROM devices ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}`;
      return (db.prepare(sql).get() as { n: number }).n;
    },
  };
}
