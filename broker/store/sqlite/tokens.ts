import type { Database } from 'better-sqlite3';
import type { TokenRecord, TokenRepo, TokenRole } from '../types.js';

interface TokenRow {
  id: string;
  name: string;
  role: TokenRole;
  created_at: string;
  last_used_at: string | null;
}

const toRecord = (r: TokenRow): TokenRecord => ({
  id: r.id,
  name: r.name,
  role: r.role,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

export function createTokenRepo(db: Database): TokenRepo {
  return {
    async create(t, now) {
      db.prepare('INSERT INTO api_tokens (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)').run(
        t.id, t.name, t.role, t.hash, now.toISOString(),
      );
      return { id: t.id, name: t.name, role: t.role, createdAt: now.toISOString(), lastUsedAt: null };
    },
    async findByHash(hash) {
      // The hash is of a 256-bit random secret: an indexed lookup leaks nothing useful by timing.
      const row = db.prepare<[Buffer], TokenRow>('SELECT id, name, role, created_at, last_used_at FROM api_tokens WHERE hash = ?').get(hash);
      return row ? toRecord(row) : undefined;
    },
    async list() {
      return db.prepare<[], TokenRow>('SELECT id, name, role, created_at, last_used_at FROM api_tokens ORDER BY created_at, id').all().map(toRecord);
    },
    async delete(id) {
      return db.prepare('DELETE FROM api_tokens WHERE id = ?').run(id).changes > 0;
    },
    async count() {
      return (db.prepare('SELECT COUNT(*) AS n FROM api_tokens').get() as { n: number }).n;
    },
  };
}
