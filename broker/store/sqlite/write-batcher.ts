import type { Database } from 'better-sqlite3';

export interface BatchStats {
  size: number;
  commitMs: number;
}

type Write = (db: Database) => void;

interface Pending {
  write: Write;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: writes queued during one turn of the event loop are committed together in one
 * transaction, and every caller's promise resolves only after that commit. The MQTT layer acks a
 * QoS 1 PUBLISH when its promise resolves, so an acknowledged message is on disk, at the cost of
 * one fsync per batch instead of one per message.
 */
export class WriteBatcher {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly db: Database,
    private readonly options: { maxBatch: number; onCommit?: (stats: BatchStats) => void },
  ) {}

  enqueue(write: Write): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      if (this.queue.length >= this.options.maxBatch) this.commit();
      else if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate runs after the I/O callbacks of this turn: every PUBLISH read from the
        // sockets in this turn joins the same batch.
        setImmediate(() => this.commit());
      }
    });
  }

  /** Commits what is queued now (synchronously: better-sqlite3 commits in the calling thread). */
  flush(): void {
    this.commit();
  }

  private commit(): void {
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    const started = performance.now();
    let failed = new Map<Pending, unknown>();
    try {
      try {
        // Fast path: the whole batch in one transaction, no savepoints (a savepoint per write
        // halved QoS 0 fan-in in bench/run.ts).
        this.db.transaction(() => {
          for (const p of batch) p.write(this.db);
        })();
      } catch {
        // Something in the batch failed and the transaction rolled back: run it again with a
        // savepoint per write, so one bad write fails alone, not its whole batch. A write may
        // therefore run twice; only the committed run's effects remain.
        failed = this.commitIsolated(batch);
      }
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    this.options.onCommit?.({ size: batch.length, commitMs: performance.now() - started });
    for (const p of batch) {
      if (failed.has(p)) p.reject(failed.get(p));
      else p.resolve();
    }
  }

  private commitIsolated(batch: Pending[]): Map<Pending, unknown> {
    const failed = new Map<Pending, unknown>();
    this.db.transaction(() => {
      for (const p of batch) {
        try {
          this.db.transaction(p.write)(this.db);
        } catch (err) {
          failed.set(p, err);
        }
      }
    })();
    return failed;
  }
}
