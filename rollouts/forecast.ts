/**
 * The dry run (`POST /api/v1/jobs?dryRun=true`): the same wave plan the real run will use, the bytes
 * each site must carry, and an estimated completion time from the site budgets.
 *
 * Each wave takes at least the longest of: its bytes at its busiest site ÷ that site's budget, all
 * its bytes ÷ the service cap, and its slowest device's download alone. Waves run one after another
 * (each waits for the previous to settle), with install time and soak between them. Maintenance
 * windows are not modelled: the estimate is for windows that are open.
 */
import { budgetOf, priorOf, resolveConfig, siteOf, type ResolvedConfig, type SchedulerConfig } from './config.js';
import { planWaves } from './waves.js';

/** The key for devices without a site (site ids never contain parentheses or spaces). */
export const NO_SITE = '(no site)';

export interface Forecast {
  waves: { index: number; devices: number }[];
  bytesPerSite: Record<string, number>;
  estimatedCompletionS: number;
  /** max over sites of (site bytes ÷ site budget), and all bytes ÷ the service cap: no schedule beats it. */
  lowerBoundS: number;
}

export interface ForecastOptions {
  /** Between a device's last byte and its outcome (install, reboot, report); default 0. */
  installS?: number;
}

/** The fastest a set of devices can all be served: the busiest site, the service cap, the slowest device. */
export function transferS(config: ResolvedConfig, ids: readonly string[]): number {
  const bytes = new Map<string, number>();
  let slowest = 0;
  for (const id of ids) {
    const site = siteOf(config, id);
    bytes.set(site, (bytes.get(site) ?? 0) + config.firmwareBytes);
    const rate = Math.min(priorOf(config, id), budgetOf(config, site), config.egressBytesPerSec);
    slowest = Math.max(slowest, config.firmwareBytes / rate);
  }
  const bySite = [...bytes].map(([site, b]) => b / budgetOf(config, site));
  return Math.max(slowest, (ids.length * config.firmwareBytes) / config.egressBytesPerSec, ...bySite);
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
  const installS = options.installS ?? 0;
  const soaks = Math.max(0, waves.length - 1) * config.rollout.soakS;
  const estimatedCompletionS = waves.reduce((sum, ids) => sum + transferS(config, ids) + installS, 0) + soaks;
  return {
    waves: waves.map((ids, index) => ({ index, devices: ids.length })),
    bytesPerSite,
    estimatedCompletionS,
    lowerBoundS: lowerBoundS(config),
  };
}
