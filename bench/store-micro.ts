/**
 * Where a telemetry write's time goes in the store, without MQTT: `npx tsx bench/store-micro.ts`.
 * Appends the same rows, in batches of 1,000 (the WriteBatcher's maxBatch), five ways:
 *
 *   batcher         store.telemetry.append() as Baton does it (a savepoint per write, each through
 *                   a freshly created db.transaction() wrapper)
 *   batcher-fixed   the same loop, promises included, with the savepoint wrapper created once
 *   cached-sp       a savepoint per write through one cached wrapper, no promises
 *   one-tx          the batch's inserts in one transaction, no savepoints
 *   one-tx-noai     as one-tx into a copy of the table without AUTOINCREMENT
 *   one-tx-nofsync  as one-tx with synchronous = OFF (NOT an option for Baton: shows the fsync share)
 *
 * Prints µs per write (wall time, fsync included) for each. Uses a temp dir under TMPDIR.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../broker/store/sqlite/index.js';

const BATCH = 1000;
const BATCHES = Number(process.env.BENCH_STORE_BATCHES ?? 50);
const payload = JSON.stringify({ deviceId: 'bench-00001', temperature: 21.5, humidity: 40.2, battery: 3.71 });

type Store = ReturnType<typeof openSqliteStore>;

/** Each variant gets a fresh database, so none pays for the rows (and WAL) of another. */
const variants: Array<[string, (store: Store) => () => Promise<unknown> | void]> = [
  ['batcher', (store) => () => Promise.all(Array.from({ length: BATCH }, (_, i) => store.telemetry.append(device(i), null, payload, new Date())))],
  ['batcher-fixed', ({ db }) => {
    // WriteBatcher's commit() with one change: the savepoint wrapper is created once, not per write.
    const insert = db.prepare(insertSql('telemetry'));
    const inSavepoint = db.transaction((write: () => void) => write());
    return () => {
      const queue: Array<{ write: () => void; resolve: () => void }> = [];
      const done = Array.from({ length: BATCH }, (_, i) => new Promise<void>((resolve) => queue.push({ write: () => insert.run(device(i), null, Date.now(), payload), resolve })));
      db.transaction(() => {
        for (const p of queue) inSavepoint(p.write);
      })();
      for (const p of queue) p.resolve();
      return Promise.all(done);
    };
  }],
  ['cached-sp', ({ db }) => {
    const insert = db.prepare(insertSql('telemetry'));
    const savepoint = db.transaction((i: number) => insert.run(device(i), null, Date.now(), payload));
    return db.transaction(() => { for (let i = 0; i < BATCH; i++) savepoint(i); });
  }],
  ['one-tx', ({ db }) => oneTx(db, 'telemetry')],
  ['one-tx-noai', ({ db }) => {
    db.exec(`CREATE TABLE telemetry_noai (id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, stream TEXT, received_at_ms INTEGER NOT NULL, payload TEXT NOT NULL);
             CREATE INDEX telemetry_noai_by_device ON telemetry_noai (device_id, id);
             CREATE INDEX telemetry_noai_by_time ON telemetry_noai (received_at_ms);`);
    return oneTx(db, 'telemetry_noai');
  }],
  ['one-tx-nofsync', ({ db }) => {
    db.pragma('synchronous = OFF');
    return oneTx(db, 'telemetry');
  }],
];

const device = (i: number) => `bench-${String(i % 200).padStart(5, '0')}`;
const insertSql = (table: string) => `INSERT INTO ${table} (device_id, stream, received_at_ms, payload) VALUES (?, ?, ?, ?)`;

function oneTx(db: Store['db'], table: string) {
  const insert = db.prepare(insertSql(table));
  return db.transaction(() => {
    for (let i = 0; i < BATCH; i++) insert.run(device(i), null, Date.now(), payload);
  });
}

async function measure(name: string, make: (store: Store) => () => Promise<unknown> | void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-store-micro-'));
  const store = openSqliteStore({ dataDir: dir, healthHistoryLimit: 10 });
  try {
    const run = make(store);
    for (let b = 0; b < 5; b++) await run(); // JIT warm-up
    const started = performance.now();
    for (let b = 0; b < BATCHES; b++) await run();
    const us = ((performance.now() - started) * 1000) / (BATCHES * BATCH);
    process.stdout.write(`${name.padEnd(16)} ${us.toFixed(2)} µs/write\n`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  for (const [name, make] of variants) await measure(name, make);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
