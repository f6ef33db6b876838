/**
 * The dry run (`POST /api/v1/jobs?dryRun=true`): the same wave plan the real run will use, the bytes
 * each site must carry, and an estimated completion time.
 *
 * The estimate replays the rollout on the fluid model of `fluid.ts`: waves one after another, each
 * released when the previous one's last outcome is in (its last byte + `installS`) and its soak is
 * over; within a wave, every site admits and shares as the scheduler and the buckets do, in its
 * devices' maintenance windows, with what the rollouts already running hold on it (the ledger's
 * claims) taken off its budget until their bytes are through. A wave also takes at least its bytes
 * ÷ the service cap, and as long as `maxPerMinute` and `maxConcurrent` let its devices through.
 * Devices are assumed online; one whose window never opens again is left out.
 *
 * Why a replay and not a formula: the old estimate (Σ over waves of the busiest site's bytes ÷ its
 * budget, or the slowest device alone) ignored windows altogether, planned devices that report no
 * link at the 1 Mbit/s prior they are admitted at (while they move at whatever their link is, the
 * tail of a site of slow devices), and took a wave of few devices per site as short as its slowest
 * device even when the site's budget made them queue.
 */
import { budgetOf, priorOf, resolveConfig, siteOf, type ResolvedConfig, type RolloutTarget, type SchedulerConfig } from './config.js';
import { siteFinish, type Claim, type FluidDevice } from './fluid.js';
import type { BudgetLedger } from './ledger.js';
import { planWaves } from './waves.js';
import { createWindowResolver, type MaintenanceWindows } from './windows.js';

/** The key for devices without a site (site ids never contain parentheses or spaces). */
export const NO_SITE = '(no site)';

export interface Forecast {
  waves: { index: number; devices: number }[];
  bytesPerSite: Record<string, number>;
  /** From the rollout's start (`schedule.startAt`, else `now`) to its last outcome. */
  estimatedCompletionS: number;
  /** max over sites of (site bytes ÷ site budget), and all bytes ÷ the service cap: no schedule beats it. */
  lowerBoundS: number;
}

export interface ForecastOptions {
  /** Between a device's last byte and its outcome (install, reboot, report); default 0. */
  installS?: number | undefined;
  /** When the dry run is asked, epoch ms: windows are read from here (or from a later `startAt`). */
  now?: number | undefined;
  /** The service's budgets: the rollouts running on it keep their share of each site (`BudgetLedger.claims`). */
  ledger?: BudgetLedger | undefined;
}

/** The lower bound on the makespan from bandwidth alone (issue 7's figure of merit). */
export function lowerBoundS(config: ResolvedConfig): number {
  const bytes = new Map<string, number>();
  for (const id of config.targets.keys()) bytes.set(siteOf(config, id), (bytes.get(siteOf(config, id)) ?? 0) + config.firmwareBytes);
  const total = config.targets.size * config.firmwareBytes;
  return Math.max(total / config.egressBytesPerSec, ...[...bytes].map(([site, b]) => b / budgetOf(config, site)).filter(Number.isFinite), 0);
}

export function forecast(input: SchedulerConfig, options: ForecastOptions = {}): Forecast {
  const config = resolveConfig(input);
  const waves = planWaves([...config.targets.values()], config.rollout, config.jobId);
  const bytesPerSite: Record<string, number> = {};
  for (const id of config.targets.keys()) {
    const site = siteOf(config, id) || NO_SITE;
    bytesPerSite[site] = (bytesPerSite[site] ?? 0) + config.firmwareBytes;
  }
  const start = Math.max(options.now ?? -Infinity, config.startAt ?? -Infinity);
  const origin = Number.isFinite(start) ? start : 0;
  const installMs = (options.installS ?? 0) * 1000;
  const budgets = [...config.sites.keys()].map((site): [string, number] => [site, budgetOf(config, site)]);
  const model = new WaveModel(config, options.ledger?.claims(budgets, options.now ?? origin) ?? {});
  let t = origin;
  waves.forEach((ids, w) => {
    t = model.waveEnd(ids, t) + installMs;
    if (w < waves.length - 1) t += config.rollout.soakS * 1000;
  });
  return {
    waves: waves.map((ids, index) => ({ index, devices: ids.length })),
    bytesPerSite,
    estimatedCompletionS: (t - origin) / 1000,
    lowerBoundS: lowerBoundS(config),
  };
}

/** One wave at a time: its devices as the fluid model sees them, site by site. */
class WaveModel {
  private readonly resolveWindows: ReturnType<typeof createWindowResolver>;
  /** The links the targets report, bytes/s, ascending: what the others are assumed to be like. */
  private readonly reported: number[];

  constructor(
    private readonly config: ResolvedConfig,
    private readonly others: Readonly<Record<string, readonly Claim[]>>,
  ) {
    this.resolveWindows = createWindowResolver(config.jobWindows);
    this.reported = [...config.targets.values()].filter(reports).map((t) => priorOf(config, t.id)).sort((a, b) => a - b);
  }

  /** When the wave's last byte is delivered, released at `start` (epoch ms). */
  waveEnd(ids: readonly string[], start: number): number {
    const { config } = this;
    const devices = this.devices(ids);
    const bySite = new Map<string, { prior: number; d: FluidDevice }[]>();
    ids.forEach((id, k) => {
      const site = siteOf(config, id);
      let group = bySite.get(site);
      if (!group) bySite.set(site, (group = []));
      group.push({ prior: priorOf(config, id), d: devices[k]! });
    });
    let end = start;
    for (const [site, group] of bySite) {
      // Queue order, as `queues.ts` releases them: slowest prior first, ties in wave order.
      const queue = group.sort((a, b) => a.prior - b.prior).map((g) => g.d);
      const fluid = { budget: budgetOf(config, site), claims: this.others[site] ?? [], tuning: config.tuning };
      end = Math.max(end, siteFinish(fluid, queue, config.firmwareBytes, start));
    }
    return Math.max(end, start + this.admissionBoundMs(devices));
  }

  /**
   * The wave's devices, in wave order. One that reports no link is planned at the default prior
   * (as admission plans it) but expected to move like the devices that do report: the wave's
   * unreported devices are spread evenly over the reported links (stratified quantiles), so the
   * slowest of u of them is about as slow as the slowest of u reported ones, the wave's tail.
   */
  private devices(ids: readonly string[]): FluidDevice[] {
    const { config } = this;
    const unreported = ids.filter((id) => !reports(config.targets.get(id)!)).length;
    let k = 0;
    return ids.map((id) => {
      const site = siteOf(config, id);
      const cap = Math.min(budgetOf(config, site), config.egressBytesPerSec);
      const planned = Math.min(priorOf(config, id), cap);
      const windows = this.windowsOf(id);
      if (reports(config.targets.get(id)!) || this.reported.length === 0) return { planned, rate: planned, windows };
      const like = this.reported[Math.floor(((k++ + 0.5) / unreported) * this.reported.length)]!;
      return { planned, rate: Math.min(like, cap), windows };
    });
  }

  /** The service cap, `maxPerMinute` and `maxConcurrent`: how long the wave takes at the least. */
  private admissionBoundMs(devices: readonly FluidDevice[]): number {
    const { config } = this;
    const bytes = config.firmwareBytes;
    let fastest = Infinity;
    let busy = 0;
    for (const d of devices) {
      fastest = Math.min(fastest, bytes / d.rate);
      busy += bytes / d.rate;
    }
    const { maxPerMinute, maxConcurrent } = config.rollout;
    const byCap = (devices.length * bytes) / config.egressBytesPerSec;
    const byMinute = maxPerMinute === undefined ? 0 : Math.floor((devices.length - 1) / maxPerMinute) * 60 + fastest;
    const byConcurrency = maxConcurrent === undefined ? 0 : busy / maxConcurrent;
    return Math.max(byCap, byMinute, byConcurrency) * 1000;
  }

  private windowsOf(id: string): MaintenanceWindows {
    const target = this.config.targets.get(id);
    const site = target?.site ? this.config.sites.get(target.site) : undefined;
    return this.resolveWindows(id, target ?? {}, site);
  }
}

const reports = (t: RolloutTarget): boolean => t.linkKbps !== undefined && t.linkKbps > 0;
