/**
 * Maintenance windows: a window opens at each match of a cron expression, evaluated in an IANA time
 * zone (cron-parser's `tz`, so 02:00 means 02:00 local across DST changes), and stays open
 * `durationMin` minutes. Several windows form a union; touching or overlapping ones merge.
 *
 * Parsing a cron and walking it costs ~0.2 ms, and the scheduler asks for every candidate on every
 * tick, so each set remembers the interval its last answer holds for (until the window closes or
 * the next one opens) and answers from it while time stays inside.
 */
import { CronExpressionParser } from 'cron-parser';
import type { WindowSettings } from './settings.js';

export type WindowSpec = WindowSettings;

interface Interval {
  start: number;
  end: number;
}

/** One cron window in one zone. */
class CronWindow {
  private readonly durationMs: number;
  constructor(
    private readonly cron: string,
    durationMin: number,
    private readonly tz: string,
  ) {
    this.durationMs = durationMin * 60_000;
  }

  /** The occurrence open at `t` (start ≤ t < end): the latest start ≤ t is the one that ends last. */
  openAt(t: number): Interval | undefined {
    const start = this.step(t + 1, 'prev');
    return start !== undefined && start + this.durationMs > t ? { start, end: start + this.durationMs } : undefined;
  }

  /** The first start strictly after `t`. */
  nextStart(t: number): number | undefined {
    return this.step(t, 'next');
  }

  private step(from: number, direction: 'prev' | 'next'): number | undefined {
    try {
      const expr = CronExpressionParser.parse(this.cron, { currentDate: from, tz: this.tz });
      return expr[direction]().getTime();
    } catch {
      return undefined; // a cron with no such occurrence (e.g. a date that never comes)
    }
  }
}

type State = { open: true; end: number } | { open: false; next: number | undefined };

export class MaintenanceWindows {
  private readonly windows: CronWindow[];
  private cache: { from: number; to: number; state: State } | undefined;

  /** `defaultTimeZone` applies to windows without their own `timeZone`. No windows: always open. */
  constructor(specs: readonly WindowSpec[], defaultTimeZone = 'UTC') {
    this.windows = specs.map((w) => new CronWindow(w.cron, w.durationMin, w.timeZone ?? defaultTimeZone));
  }

  get alwaysOpen(): boolean {
    return this.windows.length === 0;
  }

  isInWindow(now: number): boolean {
    return this.state(now).open;
  }

  /** When the open window around `now` closes (merged with windows it runs into); undefined when closed. */
  windowEnd(now: number): number | undefined {
    const s = this.state(now);
    return s.open ? s.end : undefined;
  }

  /** `now` when open, else when the next window opens; undefined when none ever will. */
  nextWindowStart(now: number): number | undefined {
    const s = this.state(now);
    return s.open ? now : s.next;
  }

  /** Whether a download of `bytes` at `bytesPerSec`, started now, ends before the window closes. */
  canFinishInWindow(bytes: number, bytesPerSec: number, now: number): boolean {
    const end = this.windowEnd(now);
    if (end === undefined) return false;
    if (bytes <= 0) return true;
    return bytesPerSec > 0 && now + (bytes * 1000) / bytesPerSec <= end;
  }

  private state(now: number): State {
    if (this.alwaysOpen) return { open: true, end: Infinity };
    const c = this.cache;
    if (c && now >= c.from && now < c.to) return c.state;
    const state = this.compute(now);
    this.cache = { from: now, to: state.open ? state.end : (state.next ?? Infinity), state };
    return state;
  }

  private compute(now: number): State {
    let end = this.latestEndAt(now);
    if (end === undefined) {
      const starts = this.windows.map((w) => w.nextStart(now)).filter((t): t is number => t !== undefined);
      return { open: false, next: starts.length > 0 ? Math.min(...starts) : undefined };
    }
    // Follow windows that are already open when this one closes; bounded, for a set that covers all time.
    for (let i = 0; i < 64; i++) {
      const next = this.latestEndAt(end);
      if (next === undefined || next <= end) break;
      end = next;
    }
    return { open: true, end };
  }

  private latestEndAt(t: number): number | undefined {
    let end: number | undefined;
    for (const w of this.windows) {
      const open = w.openAt(t);
      if (open && (end === undefined || open.end > end)) end = open.end;
    }
    return end;
  }
}

/** Where a device's windows come from: its own, else its site's, else the job's schedule. */
export interface WindowOwner {
  timeZone?: string | undefined;
  windows?: readonly WindowSpec[] | undefined;
}

/**
 * Resolves a device's windows (device, then site, then job) in its zone (device, then site, then
 * UTC), sharing one `MaintenanceWindows` among devices that resolve alike so caches are shared.
 */
export function createWindowResolver(jobWindows: readonly WindowSpec[] | undefined) {
  const cache = new Map<string, MaintenanceWindows>();
  return (deviceId: string, device: WindowOwner, site: (WindowOwner & { id: string }) | undefined): MaintenanceWindows => {
    const [source, specs] = device.windows
      ? [`device:${deviceId}`, device.windows]
      : site?.windows
        ? [`site:${site.id}`, site.windows]
        : ['job', jobWindows ?? []];
    const tz = device.timeZone ?? site?.timeZone ?? 'UTC';
    const key = specs.length === 0 ? 'always' : `${source}\u0000${tz}`;
    let windows = cache.get(key);
    if (!windows) cache.set(key, (windows = new MaintenanceWindows(specs, tz)));
    return windows;
  };
}
