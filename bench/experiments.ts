/**
 * Candidate optimisations, tried on the live Baton process without editing broker/: each one
 * replaces one method on a prototype before buildService() runs, as a test would inject a
 * failure. `npm run bench -- --experiment <name>` adds a "Baton +<name>" row next to Baton.
 * They mirror WriteBatcher.commit() (broker/store/sqlite/write-batcher.ts) with one change each;
 * a result worth having moves into broker/ and the experiment is deleted.
 */
import type { Database } from 'better-sqlite3';
import { WriteBatcher, type BatchStats } from '../broker/store/sqlite/write-batcher.js';

interface Pending {
  write: (db: Database) => void;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** The private state commit() works on. */
interface BatcherState {
  queue: Pending[];
  scheduled: boolean;
  db: Database;
  options: { onCommit?: (stats: BatchStats) => void };
}

type RunWrite = (db: Database, p: Pending) => void;

/** commit() as in write-batcher.ts, with how one write runs inside the batch as the variable. */
function commitWith(makeRunWrite: (db: Database) => RunWrite) {
  const runners = new WeakMap<Database, RunWrite>();
  return function commit(this: BatcherState): void {
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    let runWrite = runners.get(this.db);
    if (!runWrite) runners.set(this.db, (runWrite = makeRunWrite(this.db)));
    const started = performance.now();
    const failed = new Map<Pending, unknown>();
    try {
      this.db.transaction(() => {
        for (const p of batch) {
          try {
            runWrite(this.db, p);
          } catch (err) {
            failed.set(p, err);
          }
        }
      })();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    this.options.onCommit?.({ size: batch.length, commitMs: performance.now() - started });
    for (const p of batch) {
      if (failed.has(p)) p.reject(failed.get(p));
      else p.resolve();
    }
  };
}

export const experiments = {
  /** A savepoint per write as today, through one wrapper made once instead of db.transaction() per write. */
  'cached-savepoint': commitWith((db) => {
    const inSavepoint = db.transaction((p: Pending) => p.write(db));
    return (_db, p) => inSavepoint(p);
  }),
  /**
   * No savepoint: SQLite already undoes a failed statement on its own, so a one-statement write
   * (telemetry, connection log, last-seen) needs none. Multi-statement writes would still.
   */
  'no-savepoint': commitWith(() => (db, p) => p.write(db)),
} as const;

export type ExperimentName = keyof typeof experiments;

export function isExperiment(name: string): name is ExperimentName {
  return Object.hasOwn(experiments, name);
}

export function applyExperiment(name: ExperimentName): void {
  (WriteBatcher.prototype as unknown as { commit: unknown }).commit = experiments[name];
}
