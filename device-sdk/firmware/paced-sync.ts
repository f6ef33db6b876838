/**
 * Group commit for the download's files: however many blocks are written, `sync` runs at most
 * once per `intervalMs` (each run covers every write before it), plus once on `flush()` at the end
 * or on abort. So a power cut costs at most the last interval of the download, and the number of
 * fsyncs a second is bounded whatever the link speed (a temp file, two fsyncs and a rename per
 * block held the SDK to a fraction of the link).
 */
import type { Clock } from '../clock.js';

export interface SyncPacing {
  intervalMs: number;
  clock: Clock;
  /** Monotonic milliseconds. */
  now(): number;
}

export class PacedSync {
  private unsynced = false;
  private timer: unknown;
  private running: Promise<void> | undefined;
  private lastStart = -Infinity;
  private failure: unknown;

  constructor(
    private readonly sync: () => Promise<void>,
    private readonly pacing: SyncPacing,
  ) {}

  /**
   * Something was written: it will be synced within `intervalMs`. Throws the error of a failed
   * background sync, so a device whose storage fails stops instead of downloading into the void.
   */
  request(): void {
    if (this.failure !== undefined) throw this.failure;
    this.unsynced = true;
    this.schedule();
  }

  /** Syncs now if anything is unsynced; waits for a sync in progress. */
  async flush(): Promise<void> {
    await this.running; // which may have scheduled the next one: run that now instead
    this.pacing.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.unsynced && this.failure === undefined) await this.run();
    if (this.failure !== undefined) throw this.failure;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.running) return; // a sync is due, or running (it reschedules)
    const wait = Math.max(0, this.lastStart + this.pacing.intervalMs - this.pacing.now());
    this.timer = this.pacing.clock.setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, wait);
  }

  private run(): Promise<void> {
    this.unsynced = false;
    this.lastStart = this.pacing.now();
    this.running = this.sync().then(
      () => undefined,
      (err: unknown) => void (this.failure = err),
    ).finally(() => {
      this.running = undefined;
      if (this.unsynced && this.failure === undefined) this.schedule();
    });
    return this.running;
  }
}
