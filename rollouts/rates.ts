/**
 * What one download is expected to take from its site's budget, learned from delivered bytes.
 *
 * Two numbers per download: the measured throughput (a time-weighted moving average of delivered
 * bytes), and the device's estimated capacity (what it could take if it had the uplink to itself).
 * Admission sums capacities, not throughputs: on a saturated site every download is slowed to its
 * share, and summing those shares would always look "below budget" and admit without end. So a
 * slow sample lowers a capacity only when the site was not saturated (the device, not the sharing,
 * was the limit); a fast sample raises it always.
 */
import type { ExecState } from './state.js';

/** `linkKbps` (kilobits/s, as devices report it) in bytes/s. */
export const kbpsToBytesPerSec = (kbps: number): number => (kbps * 1000) / 8;

/** The rate assumed before any measurement: the reported link, else the configured default. */
export function priorRate(linkKbps: number | undefined, fallback: number): number {
  return linkKbps !== undefined && linkKbps > 0 ? kbpsToBytesPerSec(linkKbps) : fallback;
}

/**
 * Folds a new cumulative byte count into the moving average. The previous count and the time it
 * arrived (`activeAt`) are the origin; the very first bytes only set it, because the time from
 * admission to the first block is the device waking up, not its link.
 */
export function measuredRate(exec: ExecState, bytes: number, now: number, tauS: number, seed: number): number | undefined {
  if (exec.bytes <= 0 || now <= exec.activeAt || bytes <= exec.bytes) return exec.rate;
  const dt = (now - exec.activeAt) / 1000;
  const sample = (bytes - exec.bytes) / dt;
  const alpha = 1 - Math.exp(-dt / tauS);
  // Seeded with the expected rate, not the first sample: two blocks that land together would
  // otherwise start the average at an absurd rate.
  const from = exec.rate ?? seed;
  return from + alpha * (sample - from);
}

/** The capacity after a new measurement; `saturated` says the site (or the service) was the limit. */
export function nextCapacity(capacity: number, measured: number | undefined, saturated: boolean): number {
  if (measured === undefined) return capacity;
  if (measured > capacity) return measured;
  return saturated ? capacity : measured;
}

/** What a download is counted as against its site budget: its capacity, never more than the budget. */
export function expectedRate(exec: ExecState, prior: number, budget: number): number {
  return Math.min(exec.capacity ?? prior, budget);
}

/** Seconds until the download ends at its current pace (measured when known, else expected). */
export function secondsLeft(exec: ExecState, firmwareBytes: number, expected: number): number {
  const pace = exec.rate !== undefined && exec.rate > 0 ? exec.rate : expected;
  return Math.max(0, firmwareBytes - exec.bytes) / pace;
}

/**
 * Bytes per second moved over the last `windowS` seconds, in 1 s bins. Used to tell whether a site
 * is saturated: summing the downloads' moving averages lags every time one ends (its share moves to
 * the others only as fast as their averages follow), and would call a full site idle. Undefined
 * until a whole window has been seen (after a start or a restart), so nothing is learned from a gap.
 */
export class ThroughputWindow {
  private readonly bins: number[];
  private firstAt: number | undefined;
  private bin = -Infinity;

  constructor(private readonly windowS = 3) {
    this.bins = new Array<number>(windowS + 1).fill(0);
  }

  add(bytes: number, now: number): void {
    this.advance(now);
    this.firstAt ??= now;
    this.bins[this.slot(this.bin)]! += bytes;
  }

  rate(now: number): number | undefined {
    this.advance(now);
    if (this.firstAt === undefined || now - this.firstAt < this.windowS * 1000) return undefined;
    // The current bin is partial; the other `windowS` are whole seconds.
    let sum = 0;
    for (let i = 1; i <= this.windowS; i++) sum += this.bins[this.slot(this.bin - i)]!;
    return sum / this.windowS;
  }

  private advance(now: number): void {
    const bin = Math.floor(now / 1000);
    if (bin <= this.bin) return;
    const clear = Math.min(bin - this.bin, this.bins.length);
    for (let i = 1; i <= clear; i++) this.bins[this.slot(bin - clear + i)] = 0;
    this.bin = bin;
  }

  private slot(bin: number): number {
    const n = this.bins.length;
    return ((bin % n) + n) % n;
  }
}
