/**
 * The bandwidth half of the scheduler: learns each download's rate from delivered bytes, and
 * decides which waiting devices to admit so every site's budget is filled (see `admission.ts` for
 * the rule, `rates.ts` for the estimates). A site's budget belongs to the service and is shared
 * with the other rollouts on it through the `BudgetLedger`: admission fills this rollout's
 * allowance there, and the ledger asks this object for its load (`LedgerMember`).
 */
import { isTerminal } from '../device-sdk/protocol/jobs.js';
import { addDownload, byUrgency, emptyLoad, exhausted, fillSite, notificationsLeft, wantsMore, type DownloadView, type SiteLoad } from './admission.js';
import { budgetOf, priorOf, siteOf, type ResolvedConfig } from './config.js';
import type { BudgetLedger, LedgerMember } from './ledger.js';
import type { RolloutQueues } from './queues.js';
import { expectedRate, measuredRate, nextCapacity, secondsLeft } from './rates.js';
import type { ExecState, RolloutState } from './state.js';
import type { MaintenanceWindows } from './windows.js';

export interface BudgetDeps {
  config: ResolvedConfig;
  state: RolloutState;
  queues: RolloutQueues;
  /** The service's budgets, shared by every running rollout (or this rollout's own, alone). */
  ledger: BudgetLedger;
  isAway(id: string, now: number): boolean;
  windowsFor(id: string): MaintenanceWindows;
}

export class Budgets implements LedgerMember {
  /**
   * Per site, a device whose windows every device there shares (none has windows or a zone of its
   * own), or null. A closed window then skips the whole site in one check, instead of asking each
   * of its waiting devices every tick through the night.
   */
  private readonly sharedWindows = new Map<string, string | null>();

  constructor(private readonly d: BudgetDeps) {
    for (const t of d.config.targets.values()) {
      const site = siteOf(d.config, t.id);
      const own = t.windows !== undefined || t.timeZone !== undefined;
      if (own) this.sharedWindows.set(site, null);
      else if (!this.sharedWindows.has(site)) this.sharedWindows.set(site, t.id);
    }
  }

  /** Folds a new cumulative byte count into the download's rate and capacity and the site's throughput. */
  progress(id: string, exec: ExecState, bytes: number, now: number): void {
    const { config } = this.d;
    const site = siteOf(config, id);
    this.d.ledger.delivered(site, Math.min(bytes, config.firmwareBytes) - exec.bytes, now, true);
    const expected = expectedRate(exec, priorOf(config, id), budgetOf(config, site));
    const rate = measuredRate(exec, bytes, now, config.tuning.tauS, expected);
    if (rate !== undefined) exec.capacity = nextCapacity(exec.capacity ?? priorOf(config, id), rate, this.saturated(site, now));
    exec.rate = rate;
  }

  /** The rate a new download is planned at: prior capacity, within the site budget and the service cap. */
  budgetedRate(id: string): number {
    const { config } = this.d;
    return Math.min(priorOf(config, id), budgetOf(config, siteOf(config, id)), config.egressBytesPerSec);
  }

  /**
   * Waiting devices to admit now, site by site (most work left first), until this rollout's
   * allowances or the job's limits are used. Tells the ledger at which sites the allowance held it
   * back, so the other rollouts there leave it its share.
   */
  admit(now: number): string[] {
    const { config, state, queues, ledger } = this.d;
    const job = config.jobId;
    const capped = Number.isFinite(config.egressBytesPerSec);
    const limits = {
      slots: (config.rollout.maxConcurrent ?? Infinity) - queues.active,
      notifications: notificationsLeft(state.notified, config.rollout.maxPerMinute, now),
      egress: capped ? ledger.egressAllowance(job, config.egressBytesPerSec, now) - this.totalLoad(now) : Infinity,
    };
    ledger.stopWanting(job);
    const sites: { site: string; budget: number; waitingBytes: number }[] = [];
    for (const site of queues.pending.keys()) {
      const waiting = queues.waitingCount(site);
      if (waiting > 0) sites.push({ site, budget: budgetOf(config, site), waitingBytes: waiting * config.firmwareBytes });
    }
    const admitted: string[] = [];
    for (const { site, budget } of byUrgency(sites)) {
      if (exhausted(limits)) break;
      const representative = this.sharedWindows.get(site);
      if (representative && !this.d.windowsFor(representative).isInWindow(now)) continue;
      const load = this.loadOf(site, now);
      // Devices without a known site share no uplink: nothing to share with other rollouts either.
      const allowance = Number.isFinite(budget) ? ledger.allowance(job, site, budget, now) : budget;
      if (!wantsMore(load, allowance, this.saturated(site, now))) {
        ledger.want(job, site, load.load >= allowance);
        continue;
      }
      const fill = fillSite({ budget: allowance, load: load.load, candidates: queues.waiting(site), ...this.starter(allowance, load, now) }, limits);
      admitted.push(...fill.admitted);
      ledger.want(job, site, fill.full);
    }
    return admitted;
  }

  // --- LedgerMember: what the other rollouts, and dry runs, see of this one -----------------------

  load(site: string, now: number): number {
    return this.loadOf(site, now).load;
  }

  /** Σ load over every site, when the service has a cap (else nothing needs it). */
  totalLoad(now: number): number {
    if (!Number.isFinite(this.d.config.egressBytesPerSec)) return 0;
    let total = 0;
    for (const site of this.d.queues.downloading.keys()) total += this.loadOf(site, now).load;
    return total;
  }

  bytesLeft(): Map<string, number> {
    const { config, state } = this.d;
    const left = new Map<string, number>();
    for (const id of config.targets.keys()) {
      const exec = state.executions[id];
      if (exec && isTerminal(exec.status)) continue;
      const site = siteOf(config, id);
      left.set(site, (left.get(site) ?? 0) + config.firmwareBytes - (exec?.bytes ?? 0));
    }
    return left;
  }

  // --- internals --------------------------------------------------------------------------------

  /**
   * A candidate's planned rate, and whether it may start: online, not deferred, and its window
   * holds the whole download at that rate. The rate is the fair share of this rollout's allowance
   * if lower than the device's own (the site's downloads split it), so "cannot finish before the
   * window closes" errs on the side of not starting.
   */
  private starter(allowance: number, load: SiteLoad, now: number) {
    const { config } = this.d;
    const rateOf = (id: string) => this.budgetedRate(id);
    const share = allowance / (load.holding + 1);
    const mayStart = (id: string, rate: number) =>
      !this.d.isAway(id, now) && this.d.windowsFor(id).canFinishInWindow(config.firmwareBytes, Math.min(rate, share), now);
    return { rateOf, mayStart };
  }

  /** Σ expected rates of the site's downloads that hold budget now (one scratch view: this runs on every tick). */
  private loadOf(site: string, now: number): SiteLoad {
    const { config, state, queues } = this.d;
    const budget = budgetOf(config, site);
    const load = emptyLoad();
    const view: DownloadView = { expected: 0, measured: undefined, secondsLeft: 0, unstarted: false, live: false };
    for (const id of queues.downloading.get(site) ?? []) {
      const exec = state.executions[id]!;
      view.expected = expectedRate(exec, priorOf(config, id), budget);
      view.measured = exec.rate;
      view.secondsLeft = secondsLeft(exec, config.firmwareBytes, view.expected);
      view.unstarted = exec.bytes === 0;
      view.live = this.isLive(id, exec, now);
      addDownload(load, view, config.tuning.lookaheadS);
    }
    return load;
  }

  private isLive(id: string, exec: ExecState, now: number): boolean {
    if (isTerminal(exec.status) || this.d.isAway(id, now)) return false;
    return now - exec.activeAt <= this.d.config.tuning.stallS * 1000 && this.d.windowsFor(id).isInWindow(now);
  }

  /**
   * The site (or the service) moved bytes at its budget lately, every rollout's and the unmanaged
   * ones counted: a slow sample there means "shared", not "slow device".
   */
  private saturated(site: string, now: number): boolean {
    const { config, ledger } = this.d;
    return isFull(ledger.siteRate(site, now), budgetOf(config, site), config.tuning.saturation)
      || (Number.isFinite(config.egressBytesPerSec) && isFull(ledger.totalRate(now), config.egressBytesPerSec, config.tuning.saturation));
  }
}

/** No whole window yet (a start, a restart) counts as full, so nothing is unlearned from a gap. */
function isFull(rate: number | undefined, budget: number, saturation: number): boolean {
  return rate === undefined || rate >= saturation * budget;
}
