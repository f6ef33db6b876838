/**
 * One budget per site, whatever number of rollouts draw from it (issue 12). Each running
 * scheduler joins the service's one `BudgetLedger`; on admission it asks what it may hold at a
 * site (`allowance`) instead of the whole site budget, and a dry run asks what the running ones
 * hold (`claims`), so two rollouts on one site do not each plan with all of it.
 *
 * The split between rollouts is max-min fair and work-conserving: a rollout held back by the
 * budget at its last admission there ("wanting") can count on an equal share of what the others
 * that do not want more leave; one that wants no more holds what it has. Nothing is taken from a
 * download already running: a rollout that came first and holds more than its share keeps it
 * until those downloads end, and admits no more until it is under its share. Downloads no
 * scheduler drives (continuous jobs, direct downloads) are counted by their measured throughput
 * and come off the top. The members are asked for their load when needed, never cached, so a
 * download that ended frees its share at once. Pure: no timers, no I/O; `now` is passed in.
 */
import type { Claim } from './fluid.js';
import { ThroughputWindow } from './rates.js';

/** A running scheduler, as the ledger sees it. */
export interface LedgerMember {
  /** Σ expected rates of its downloads holding budget at the site (`budgets.ts`), bytes/s. */
  load(site: string, now: number): number;
  /** The same over all its sites: what it holds of the service cap. */
  totalLoad(now: number): number;
  /** Per site, the firmware bytes it has still to deliver there, every wave included. */
  bytesLeft(): ReadonlyMap<string, number>;
}

export class BudgetLedger {
  private readonly members = new Map<string, LedgerMember>();
  /** Site → members held back by the budget at their last admission there. */
  private readonly wanting = new Map<string, Set<string>>();
  /** Every firmware byte per site and in all: whether a site (or the service) is saturated. */
  private readonly sites = new Map<string, ThroughputWindow>();
  private readonly all = new ThroughputWindow();
  /** The bytes of downloads no member drives. */
  private readonly unmanaged = new Map<string, ThroughputWindow>();
  private readonly unmanagedAll = new ThroughputWindow();

  /** Adds a scheduler under its job id (a restored one replaces the one it restores). */
  join(id: string, member: LedgerMember): void {
    this.members.set(id, member);
  }

  leave(id: string): void {
    this.members.delete(id);
    this.stopWanting(id);
  }

  /** Firmware bytes sent to a device at `site` ('' for none); `managed`: a member counts them as its own. */
  delivered(site: string, bytes: number, now: number, managed: boolean): void {
    this.all.add(bytes, now);
    window(this.sites, site).add(bytes, now);
    if (managed) return;
    this.unmanagedAll.add(bytes, now);
    window(this.unmanaged, site).add(bytes, now);
  }

  /** Bytes/s to the site over the last seconds; undefined until a whole window has been seen. */
  siteRate(site: string, now: number): number | undefined {
    return window(this.sites, site).rate(now);
  }

  /** Bytes/s to every device over the last seconds; undefined until a whole window has been seen. */
  totalRate(now: number): number | undefined {
    return this.all.rate(now);
  }

  /** Records whether the member's admission at `site` was held back by its allowance. */
  want(id: string, site: string, wanting: boolean): void {
    let set = this.wanting.get(site);
    if (wanting) {
      if (!set) this.wanting.set(site, (set = new Set()));
      set.add(id);
    } else set?.delete(id);
  }

  /** The member wants nothing anywhere (its admission pass starts, or it stopped admitting). */
  stopWanting(id: string): void {
    for (const set of this.wanting.values()) set.delete(id);
  }

  /** Σ of the expected rates every member holds at the site, and the unmanaged bytes/s: how full it is. */
  held(site: string, now: number): number {
    let sum = window(this.unmanaged, site).rate(now) ?? 0;
    for (const m of this.members.values()) sum += m.load(site, now);
    return sum;
  }

  /** What member `id` may hold at `site` (expected rates, bytes/s): its share of `budget`. */
  allowance(id: string, site: string, budget: number, now: number): number {
    const { free, settled, wanting } = this.split(id, site, budget, now);
    const fair = (free - settled) / (wanting.length + 1);
    return wanting.reduce((left, [, load]) => left - Math.max(load, fair), free - settled);
  }

  /** What member `id` may hold of the service cap: the cap less the others' load and the unmanaged bytes. */
  egressAllowance(id: string, cap: number, now: number): number {
    let held = this.unmanagedAll.rate(now) ?? 0;
    for (const [other, m] of this.members) if (other !== id) held += m.totalLoad(now);
    return cap - held;
  }

  /**
   * What the running members hold on each site, as a dry run should plan around them: one that
   * wants more there settles at a fair share (the newcomer counted: what it holds above that ends
   * with its current downloads, within one download time), one that does not keeps its load; each
   * until its bytes left there are through at that rate.
   */
  claims(budgets: Iterable<[site: string, budget: number]>, now: number): Record<string, Claim[]> {
    const out: Record<string, Claim[]> = {};
    const left = new Map([...this.members].map(([id, m]) => [id, m.bytesLeft()]));
    for (const [site, budget] of budgets) {
      const { free, settled, wanting, holding } = this.split(undefined, site, budget, now);
      const fair = (free - settled) / (wanting.length + 1);
      const list: Claim[] = [];
      for (const [id, load] of holding) {
        const rate = wanting.some(([w]) => w === id) ? fair : load;
        const bytes = left.get(id)!.get(site) ?? 0;
        if (rate > 0 && bytes > 0) list.push({ rate, until: now + (bytes / rate) * 1000 });
      }
      if (list.length > 0) out[site] = list;
    }
    return out;
  }

  /**
   * The site as member `id` (undefined: a newcomer) sees it: the budget less the unmanaged bytes
   * (`free`), the load of the other members that want no more (`settled`), and the loads of those
   * that do (`wanting`) and of all of them (`holding`).
   */
  private split(id: string | undefined, site: string, budget: number, now: number) {
    const wanted = this.wanting.get(site);
    const holding: [string, number][] = [];
    const wanting: [string, number][] = [];
    let settled = 0;
    for (const [other, m] of this.members) {
      if (other === id) continue;
      const load = m.load(site, now);
      holding.push([other, load]);
      if (wanted?.has(other)) wanting.push([other, load]);
      else settled += load;
    }
    return { free: budget - (window(this.unmanaged, site).rate(now) ?? 0), settled, wanting, holding };
  }
}

function window(map: Map<string, ThroughputWindow>, key: string): ThroughputWindow {
  let w = map.get(key);
  if (!w) map.set(key, (w = new ThroughputWindow()));
  return w;
}
