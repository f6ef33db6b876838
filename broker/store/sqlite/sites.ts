import type { Database } from 'better-sqlite3';
import { insertUnique } from './insert-unique.js';
import type { SiteRecord, SiteRepo } from '../types.js';

interface SiteRow {
  id: string;
  uplink_bytes_per_sec: number;
  description: string | null;
  time_zone: string | null;
  created_at: string;
  updated_at: string;
}

const toRecord = (r: SiteRow): SiteRecord => ({
  id: r.id,
  uplinkBytesPerSec: r.uplink_bytes_per_sec,
  description: r.description,
  timeZone: r.time_zone,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export function createSiteRepo(db: Database): SiteRepo {
  const get = (id: string) => {
    const row = db.prepare<[string], SiteRow>('SELECT * FROM sites WHERE id = ?').get(id);
    return row ? toRecord(row) : undefined;
  };
  return {
    async create(s, now) {
      const at = now.toISOString();
      insertUnique(
        () =>
          db.prepare(
            'INSERT INTO sites (id, uplink_bytes_per_sec, description, time_zone, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
          ).run(s.id, s.uplinkBytesPerSec, s.description, s.timeZone, at, at),
        `site ${s.id}`,
      );
      return get(s.id)!;
    },
    async get(id) {
      return get(id);
    },
    async list() {
      return db.prepare<[], SiteRow>('SELECT * FROM sites ORDER BY id').all().map(toRecord);
    },
    async update(id, patch, now) {
      const current = get(id);
      if (!current) return undefined;
      const next = { ...current, ...patch };
      db.prepare('UPDATE sites SET uplink_bytes_per_sec = ?, description = ?, time_zone = ?, updated_at = ? WHERE id = ?').run(
        next.uplinkBytesPerSec, next.description, next.timeZone, now.toISOString(), id,
      );
      return get(id);
    },
  };
}
