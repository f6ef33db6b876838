/** Clocks for the SDK's tests: one driven by hand, one that counts the real timers it sets. */
import { systemClock, type Clock } from './clock.js';

interface ManualTimer {
  due: number;
  callback: () => void;
}

/** Fake time: nothing fires until `advance()`; timers fire in due order. */
export class ManualClock implements Clock {
  now = 0;
  private readonly timers = new Set<ManualTimer>();

  get pending(): number {
    return this.timers.size;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { due: this.now + ms, callback };
    this.timers.add(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as ManualTimer);
  }

  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const next = [...this.timers].filter((t) => t.due <= until).sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      this.timers.delete(next);
      this.now = next.due;
      next.callback();
    }
    this.now = until;
  }
}

/** Real timers, counted: `pending` is how many are set and not yet fired or cleared. */
export class RecordingClock implements Clock {
  /** Timers set since creation. */
  created = 0;
  private readonly live = new Set<unknown>();

  get pending(): number {
    return this.live.size;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    this.created++;
    const handle: unknown = systemClock.setTimeout(() => {
      this.live.delete(handle);
      callback();
    }, ms);
    this.live.add(handle);
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.live.delete(handle);
    systemClock.clearTimeout(handle);
  }
}
