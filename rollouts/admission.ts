/**
 * Admission: how many downloads to start at a site so its uplink budget is used and no more.
 *
 * The rule (issue 7): keep the sum of the expected rates of the downloads in flight at or above the
 * site budget. Waking every device and letting them fight over the uplink (what devices-per-minute
 * pacing amounts to) lengthens every download and the time each device spends half-updated; too
 * few in flight leaves the uplink idle. Expected rates come from `rates.ts` (capacity, learned).
 */

/** A site's firmware budget: its uplink times the share firmware may use. */
export const siteBudget = (uplinkBytesPerSec: number, share: number): number => uplinkBytesPerSec * share;

/** One download as admission sees it. */
export interface DownloadView {
  /** Counted against the budget: capacity, capped at the budget. */
  expected: number;
  /** Measured throughput, once there is one. */
  measured: number | undefined;
  /** At its current pace. */
  secondsLeft: number;
  /** No byte delivered yet: the whole download is still ahead. */
  unstarted: boolean;
  /** Moving bytes now: online, not deferred, in its window, not stalled. */
  live: boolean;
}

export interface SiteLoad {
  /** Σ expected of the downloads that hold budget. */
  load: number;
  /** Downloads that hold budget, for the share a newcomer can count on. */
  holding: number;
  /** Σ (expected − measured) of holding downloads held back by the buckets: what they could still absorb. */
  spare: number;
  /** Σ throughput of the downloads about to end: what their ends will free. */
  freeing: number;
}

/** Getting under this share of its expected rate, a download is held back by the buckets, not its link. */
const HELD_BACK = 0.9;

/**
 * Only live downloads hold budget (a paused or stalled one moves no bytes, so its share is free);
 * one about to end does not either, so its successor is admitted before it ends, not a tick after:
 * the successor's notify and first block take time the uplink would otherwise spend idle. One not
 * yet started always holds it, however short: all of it is still to come.
 */
export function addDownload(site: SiteLoad, d: DownloadView, lookaheadS: number): void {
  if (!d.live) return;
  if (!d.unstarted && d.secondsLeft <= lookaheadS) {
    site.freeing += d.measured ?? d.expected;
    return;
  }
  site.load += d.expected;
  site.holding += 1;
  if (d.measured !== undefined && d.measured < HELD_BACK * d.expected) site.spare += d.expected - d.measured;
}

export const emptyLoad = (): SiteLoad => ({ load: 0, holding: 0, spare: 0, freeing: 0 });

export function siteLoad(downloads: Iterable<DownloadView>, lookaheadS: number): SiteLoad {
  const site = emptyLoad();
  for (const d of downloads) addDownload(site, d, lookaheadS);
  return site;
}

/**
 * Whether a site needs another download: while the expected rates of its downloads sum to less
 * than its budget, unless it is saturated and downloads held back by the buckets can absorb what
 * the ending ones free. Capacities are learned only where a device is the limit; on a saturated
 * site an unreported link stays at its prior, and the sum alone would admit devices the uplink
 * cannot serve (more devices half-downloaded at once, each for longer).
 */
export function wantsMore(site: SiteLoad, budget: number, saturated: boolean): boolean {
  return site.load < budget && !(saturated && site.spare > 0 && site.spare >= site.freeing);
}

/** What the whole job may still do this tick; shared by all sites, decremented as they admit. */
export interface Limits {
  /** `maxConcurrent` minus the active executions. */
  slots: number;
  /** `maxPerMinute` minus the notifications of the last minute. */
  notifications: number;
  /** The service cap minus the load of every site, bytes/s. */
  egress: number;
}

export const exhausted = (l: Limits): boolean => l.slots <= 0 || l.notifications <= 0 || l.egress <= 0;

export interface SiteFill {
  budget: number;
  /** Σ expected of the downloads holding budget. */
  load: number;
  /** In admission order. */
  candidates: Iterable<string>;
  /** The expected rate of a candidate once started (prior capacity, capped at the budget). */
  rateOf(id: string): number;
  /** Online, not deferred, and its window can hold the whole remaining download at `rate`. */
  mayStart(id: string, rate: number): boolean;
}

/**
 * Admits candidates until the site's load reaches its budget or a job-wide limit runs out. `full`:
 * it stopped at the budget with candidates left (what the ledger calls wanting more).
 */
export function fillSite(site: SiteFill, limits: Limits): { admitted: string[]; full: boolean } {
  const admitted: string[] = [];
  let load = site.load;
  for (const id of site.candidates) {
    if (exhausted(limits)) break;
    if (load >= site.budget) return { admitted, full: true };
    const rate = site.rateOf(id);
    if (!site.mayStart(id, rate)) continue;
    admitted.push(id);
    load += rate;
    limits.slots -= 1;
    limits.notifications -= 1;
    limits.egress -= rate;
  }
  return { admitted, full: false };
}

/**
 * Notifications left under `maxPerMinute`, from the admission times of the last 60 s (trimmed in
 * place). A sliding window rather than a token bucket: a bucket deep enough to start a minute's
 * worth at once would let 2 × maxPerMinute through in some 60 s window; this never lets more than N.
 */
export function notificationsLeft(log: number[], maxPerMinute: number | undefined, now: number): number {
  if (maxPerMinute === undefined) return Infinity;
  const firstRecent = log.findIndex((t) => t > now - 60_000);
  log.splice(0, firstRecent === -1 ? log.length : firstRecent);
  return Math.max(0, maxPerMinute - log.length);
}

/** Sites ordered by most work left per unit of budget first, so a shared service cap goes where it shortens the makespan. */
export function byUrgency<T extends { site: string; waitingBytes: number; budget: number }>(sites: T[]): T[] {
  // Ties by id: the order must not depend on history, or a restored scheduler would decide differently.
  return sites.sort((a, b) => b.waitingBytes / b.budget - a.waitingBytes / a.budget || (a.site < b.site ? -1 : a.site > b.site ? 1 : 0));
}
