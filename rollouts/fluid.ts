/**
 * The forecast's model of one site delivering one wave: the scheduler's admission and the buckets'
 * sharing, on continuous bytes instead of blocks.
 *
 * - Admission as `budgets.ts` does it: waiting devices in queue order (slowest planned rate first),
 *   started while the downloads holding budget sum below what the site may use. A new download
 *   counts at its planned rate until its own is learned (after `tauS`, and a slower one only where
 *   the site has room, as `rates.ts` learns), and stops holding budget `lookaheadS` from its end,
 *   so its successor starts before it ends. A device starts only if its window can hold the whole
 *   download at min(planned rate, fair share).
 * - Sharing as the buckets do it: each live download moves at its own rate, or all share the site
 *   max-min fairly when their rates add up to more (FIFO block requests with one in flight per
 *   device amount to that).
 * - A download outside its window is paused and holds nothing; what other rollouts hold on the
 *   site (`claims`) is taken off the top until their bytes are through.
 *
 * Event-driven: rates change only when a download starts, ends, is learned, nears its end or meets
 * a window edge, or a claim ends, so a site of n devices costs O(n · in flight), and no clock steps.
 */
import type { Tuning } from './config.js';
import type { MaintenanceWindows } from './windows.js';

export interface FluidDevice {
  /** The rate admission counts a new download at: its prior capacity, within the budget. */
  planned: number;
  /** The rate it is expected to move at once running (admission learns it from delivered bytes). */
  rate: number;
  windows: MaintenanceWindows;
}

/** What others hold on the site: `rate` bytes/s until `until` (epoch ms). */
export interface Claim {
  rate: number;
  until: number;
}

export interface FluidSite {
  /** The site's firmware budget (bytes/s); Infinity for devices that share no uplink. */
  budget: number;
  claims: readonly Claim[];
  /**
   * Admission's: `lookaheadS` from its end a download no longer holds budget; a new one counts at
   * its planned rate for `tauS` at the least; above `saturation` × the site a slower download is
   * taken for sharing, not learned.
   */
  tuning: Pick<Tuning, 'lookaheadS' | 'tauS' | 'saturation'>;
}

interface Download {
  d: FluidDevice;
  left: number;
  /** Bytes/s in the current interval; 0 while paused. */
  now: number;
  /** When it ends at `now` (epoch ms); Infinity while paused. */
  ends: number;
  /** Counted at its planned rate until then at the least. */
  learnedAt: number;
  /** Counted at its own rate from now on. */
  learned: boolean;
  /** Came within the lookahead of its end: holds no budget any more (for good, as sharing may slow it again). */
  freed: boolean;
}

/**
 * Without a download starting or moving for this long, the devices still waiting are taken to fit
 * none of their windows (each is too short for them, every night): the real run never starts them.
 */
const GIVE_UP_MS = 35 * 86_400_000;

/**
 * Events closer than 1 % of the shortest download (and never more than this apart) are taken
 * together: a site with thousands of downloads in flight would otherwise cost an event per end,
 * each O(in flight). The error is at most that 1 % per download in sequence.
 */
const MAX_STEP_MS = 50;

/**
 * When the last of `devices` (in admission order) has all `bytes`, starting at `start` (epoch ms).
 * A device whose window never opens again, or never holds its download, is left out: the real run
 * never gets to it either.
 */
export function siteFinish(site: FluidSite, devices: readonly FluidDevice[], bytes: number, start: number): number {
  if (devices.length === 0) return start;
  // Nothing shared: each download is on its own (and n at once would make every event O(n)).
  if (!Number.isFinite(site.budget) && site.claims.length === 0) return soloFinishes(site, devices, bytes, start);
  return new SiteRun(site, devices, bytes).run(start);
}

class SiteRun {
  /** Devices before `head` have started; the rest wait in queue order. */
  private readonly waiting: FluidDevice[];
  private head = 0;
  private readonly running: Download[] = [];
  private readonly stepMs: number;

  constructor(
    private readonly site: FluidSite,
    devices: readonly FluidDevice[],
    private readonly bytes: number,
  ) {
    this.waiting = [...devices];
    let fastest = 0;
    for (const d of devices) fastest = Math.max(fastest, d.planned, d.rate);
    this.stepMs = Math.min(MAX_STEP_MS, ((bytes / fastest) * 1000) / 100);
  }

  run(start: number): number {
    let t = start;
    let last = start;
    let moved = start;
    for (;;) {
      const capacity = this.site.budget - held(this.site.claims, t);
      this.learn(capacity, t);
      this.admit(capacity, t);
      const live = this.running.filter((r) => r.d.windows.isInWindow(t));
      for (const r of this.running) r.now = 0;
      share(live, capacity);
      for (const r of this.running) r.ends = r.now > 0 ? t + (r.left / r.now) * 1000 : Infinity;
      if (live.some((r) => r.now > 0)) moved = t;
      const event = this.nextEvent(t);
      if (event === undefined || event - moved > GIVE_UP_MS) return last;
      const next = Math.max(event, t + this.stepMs);
      const dt = (next - t) / 1000;
      for (let i = this.running.length - 1; i >= 0; i--) {
        const r = this.running[i]!;
        // Ended by its own time, not by bytes reaching 0: floating-point residue never stalls the clock.
        if (r.ends <= next) {
          this.running.splice(i, 1);
          last = next;
          continue;
        }
        r.left -= r.now * dt;
        if (r.ends - next <= this.site.tuning.lookaheadS * 1000) r.freed = true;
      }
      t = next;
    }
  }

  /**
   * Starts waiting devices while the downloads holding budget sum below `capacity`. Devices whose
   * window cannot hold their download are skipped, as the scheduler skips them.
   */
  private admit(capacity: number, t: number): void {
    let load = 0;
    let holding = 0;
    for (const r of this.running) {
      if (r.freed || !r.d.windows.isInWindow(t)) continue;
      load += r.learned ? r.d.rate : r.d.planned;
      holding += 1;
    }
    // Per pass, a window set that refused a rate refuses every lower one: skip without asking again.
    const refused = new Map<MaintenanceWindows, number>();
    const { waiting } = this;
    for (let i = this.head; i < waiting.length && load < capacity; i++) {
      const d = waiting[i]!;
      const rate = Math.min(d.planned, capacity / (holding + 1));
      const no = refused.get(d.windows);
      if ((no !== undefined && rate <= no) || !d.windows.canFinishInWindow(this.bytes, rate, t)) {
        refused.set(d.windows, Math.max(no ?? 0, rate));
        continue;
      }
      this.running.push({ d, left: this.bytes, now: 0, ends: Infinity, learnedAt: t + this.site.tuning.tauS * 1000, learned: false, freed: false });
      load += d.planned;
      holding += 1;
      if (i > this.head) {
        // Started past a skipped one: moved before `head`, the rest stays in queue order.
        waiting.splice(i, 1);
        waiting.splice(this.head, 0, d);
      }
      this.head++;
    }
  }

  /**
   * As `rates.ts` learns a capacity from what the last interval moved: a download faster than
   * planned is counted at its rate once measured; a slower one only if the site was not saturated
   * (there, slow means shared), so on a busy site a device that reported no link keeps its prior
   * until the site has room.
   */
  private learn(capacity: number, t: number): void {
    let moving = 0;
    for (const r of this.running) moving += r.now;
    const saturated = moving >= this.site.tuning.saturation * capacity;
    for (const r of this.running) if (!r.learned && r.now > 0 && t >= r.learnedAt && (r.d.rate >= r.d.planned || !saturated)) r.learned = true;
  }

  /** The next time anything changes: a download ends, nears its end, is learned, or meets a window edge; a claim ends; a window opens. */
  private nextEvent(t: number): number | undefined {
    const lookahead = this.site.tuning.lookaheadS * 1000;
    let next = Infinity;
    for (const r of this.running) {
      if (r.now > 0) {
        next = Math.min(next, r.ends, r.d.windows.windowEnd(t) ?? Infinity);
        if (!r.freed && r.ends - lookahead > t) next = Math.min(next, r.ends - lookahead);
      } else if (!r.d.windows.isInWindow(t)) next = Math.min(next, r.d.windows.nextWindowStart(t) ?? Infinity);
      if (r.learnedAt > t) next = Math.min(next, r.learnedAt);
    }
    for (const c of this.site.claims) if (c.until > t) next = Math.min(next, c.until);
    // A device left waiting may have been refused by its window: it may start when the window opens
    // (or, if this one is too short, the next one does: closing comes first). Asking for the window
    // after this one here would thrash the windows' one-interval cache.
    if (this.head < this.waiting.length) {
      const seen = new Set<MaintenanceWindows>();
      for (let i = this.head; i < this.waiting.length; i++) {
        const w = this.waiting[i]!.windows;
        if (w.alwaysOpen || seen.has(w)) continue;
        seen.add(w);
        const change = w.windowEnd(t) ?? w.nextWindowStart(t);
        if (change !== undefined && change > t) next = Math.min(next, change);
      }
    }
    return Number.isFinite(next) ? next : undefined;
  }
}

/** Σ of the claims still held at `t`. */
function held(claims: readonly Claim[], t: number): number {
  let sum = 0;
  for (const c of claims) if (c.until > t) sum += c.rate;
  return sum;
}

/** Max-min fair rates: each at its own rate, or all above a common level at that level. */
function share(live: Download[], capacity: number): void {
  if (capacity <= 0) return;
  let demand = 0;
  for (const r of live) demand += r.d.rate;
  if (demand <= capacity) {
    for (const r of live) r.now = r.d.rate;
    return;
  }
  const byRate = [...live].sort((a, b) => a.d.rate - b.d.rate);
  let left = capacity;
  for (let k = 0; k < byRate.length; k++) {
    const level = left / (byRate.length - k);
    const r = byRate[k]!;
    if (r.d.rate <= level) {
      r.now = r.d.rate;
      left -= r.d.rate;
      continue;
    }
    for (let j = k; j < byRate.length; j++) byRate[j]!.now = level;
    return;
  }
}

/** Downloads that share nothing: each alone, and devices alike (rate and windows) finish alike. */
function soloFinishes(site: FluidSite, devices: readonly FluidDevice[], bytes: number, start: number): number {
  const alike = new Map<MaintenanceWindows, Map<number, number>>();
  let last = start;
  for (const d of devices) {
    let byRate = alike.get(d.windows);
    if (!byRate) alike.set(d.windows, (byRate = new Map()));
    if (!byRate.has(d.rate)) byRate.set(d.rate, new SiteRun({ ...site, budget: d.rate }, [d], bytes).run(start));
    last = Math.max(last, byRate.get(d.rate)!);
  }
  return last;
}
