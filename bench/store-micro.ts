/**
 * Where a telemetry write's time goes in the store, without MQTT: `npx tsx bench/store-micro.ts`.
 * Appends the same rows, in batches of 1,000 (the WriteBatcher's maxBatch), five ways, each into
 * a fresh database:
 *
 *   batcher              store.telemetry.append() as Baton does it now
 *   savepoint-per-write  the batch with a savepoint per write, each through a new db.transaction()
 *                        wrapper (WriteBatcher before its fast path; still its fallback path)
 *   one-tx               the batch's inserts in one transaction, no promises: the floor for the batcher
 *   one-tx-noai          as one-tx into a copy of the table without AUTOINCREMENT
 *   one-tx-nofsync       as one-tx with synchronous = OFF (NOT an option for Baton: shows the fsync share)
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
  ['savepoint-per-write', ({ db }) => {
    const insert = db.prepare(insertSql('telemetry'));
    return db.transaction(() => {
      for (let i = 0; i < BATCH; i++) db.transaction(() => insert.run(device(i), null, Date.now(), payload))();
    });
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
    process.stdout.write(`${name.padEnd(20)} ${us.toFixed(2)} µs/write\n`);
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
