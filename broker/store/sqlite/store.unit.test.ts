import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from './migrate.js';
import { WriteBatcher, type BatchStats } from './write-batcher.js';

const memoryDb = () => {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  return db;
};

describe('WriteBatcher (group commit)', () => {
  it('commits the writes queued in one event-loop turn in one transaction, then resolves them', async () => {
    const db = memoryDb();
    const batches: BatchStats[] = [];
    const writer = new WriteBatcher(db, { maxBatch: 100, onCommit: (s) => batches.push(s) });
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const writes = Array.from({ length: 10 }, (_, i) => writer.enqueue(() => void insert.run(String(i))));
    expect((db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n).toBe(0); // nothing before the commit
    await Promise.all(writes);
    expect(batches.map((b) => b.size)).toEqual([10]);
    expect((db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n).toBe(10);
  });

  it('commits early when a batch reaches maxBatch', async () => {
    const db = memoryDb();
    const sizes: number[] = [];
    const writer = new WriteBatcher(db, { maxBatch: 4, onCommit: (s) => sizes.push(s.size) });
    await Promise.all(Array.from({ length: 10 }, (_, i) => writer.enqueue((d) => void d.prepare('INSERT INTO t (v) VALUES (?)').run(String(i)))));
    expect(sizes).toEqual([4, 4, 2]);
  });

  it('fails only the bad write of a batch', async () => {
    const db = memoryDb();
    const writer = new WriteBatcher(db, { maxBatch: 100 });
    const ok = writer.enqueue((d) => void d.prepare('INSERT INTO t (v) VALUES (?)').run('a'));
    const bad = writer.enqueue((d) => void d.prepare('INSERT INTO t (v) VALUES (?)').run(null));
    const ok2 = writer.enqueue((d) => void d.prepare('INSERT INTO t (v) VALUES (?)').run('b'));
    await expect(bad).rejects.toThrow(/NOT NULL/);
    await Promise.all([ok, ok2]);
    expect(db.prepare('SELECT v FROM t ORDER BY id').all()).toEqual([{ v: 'a' }, { v: 'b' }]);
  });
});

describe('migrations', () => {
  it('runs each migration once, forward only', () => {
    const db = new Database(':memory:');
    const all = loadMigrations();
    expect(all[0]).toMatchObject({ version: 1, name: 'foundation' });
    expect(migrate(db)).toEqual(all.map((m) => m.version));
    expect(migrate(db)).toEqual([]);
  });

  it('refuses a database migrated by a newer version', () => {
    const db = new Database(':memory:');
    migrate(db);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')").run();
    expect(() => migrate(db)).toThrow('migrations this version does not know: 999');
  });
});
