import { describe, expect, it } from 'vitest';
import { forecast } from '../../rollouts/forecast.js';
import type { SiteSettings } from '../../rollouts/settings.js';
import { makeFleet, type FleetSpec } from './sim-fleet.js';
import { simulate } from './simulate.js';
import type { SimOptions } from './sim-types.js';

const START = Date.parse('2025-03-03T00:00:00Z');
// 300 devices over 3 sites (2 to 8 Mbit/s uplinks), links of 0.5 to 4 Mbit/s, 30 % unreported, 10 % overstated.
const spec: FleetSpec = { devices: 300, sites: 3, seed: 'forecast', uplink: { min: 250_000, max: 1_000_000 }, link: { min: 62_500, max: 500_000 }, unknownLinkShare: 0.3, overstateShare: 0.1 };
const zones = ['Europe/Berlin', 'Asia/Tokyo', 'America/New_York'];

interface Scenario {
  fleet?: Partial<FleetSpec>;
  job?: Partial<SimOptions['job']>;
  installS?: number;
  sites?: (sites: SiteSettings[]) => SiteSettings[];
}

/** The simulated rollout's last outcome and the dry run's estimate for the same job, fleet and start. */
function both(s: Scenario): { real: number; estimate: number } {
  const fleet = makeFleet({ ...spec, ...s.fleet });
  const sites = s.sites ? s.sites(fleet.sites) : fleet.sites;
  const job = { jobId: 'forecast', sites, firmwareBytes: 1 << 20, ...s.job };
  const installS = s.installS ?? 0;
  const report = simulate({ job, devices: fleet.devices, startAt: START, blockBytes: 16_384, installS });
  expect(report.statuses).toEqual({ SUCCEEDED: fleet.devices.length });
  const dry = forecast({ ...job, targets: fleet.devices }, { installS, now: START });
  return { real: report.finishedS, estimate: dry.estimatedCompletionS };
}

// The dry run replays the scheduler on a fluid model; the simulator runs the real scheduler and
// production's pacing block by block. Measured when written: every scenario here within 3 %; the
// estimate before it (a sum of per-wave bounds) was 14 % over with fast unreported devices and
// 91–99 % under with windows.
describe('the dry run forecasts the simulated rollout within 15 %', () => {
  it.each<[string, Scenario]>([
    ['one wave over three sites', {}],
    ['a canary, growing waves, a soak and install time', { job: { rollout: { canary: {}, waves: { growthFactor: 2, initial: 20 }, soakS: 30 } }, installS: 5 }],
    [
      'ten sites from 2 to 50 Mbit/s, waves by percent, a long soak',
      { fleet: { devices: 1000, sites: 10, uplink: { min: 250_000, max: 6_250_000 }, link: { min: 62_500, max: 1_000_000 } }, job: { rollout: { canary: {}, waves: { percents: [10, 40] }, soakS: 120 } }, installS: 30 },
    ],
    ['devices slower than their sites (the tail of each site is its own links)', { fleet: { link: { min: 10_000, max: 40_000 }, unknownLinkShare: 0, overstateShare: 0 } }],
    // Waves short enough that each is as long as its slowest device: a device that reports no link
    // is as fast as the others, not at the 1 Mbit/s prior it is admitted at (the old estimate: +14 %).
    ['devices faster than the prior, 30 % unreported, growing waves', { fleet: { uplink: { min: 2_500_000, max: 10_000_000 }, link: { min: 250_000, max: 1_000_000 }, overstateShare: 0 }, job: { rollout: { canary: {}, waves: { growthFactor: 2, initial: 10 } } } }],
    ['devices slower than the prior, 30 % unreported, growing waves', { fleet: { uplink: { min: 2_500_000, max: 10_000_000 }, link: { min: 20_000, max: 60_000 }, overstateShare: 0 }, job: { rollout: { canary: {}, waves: { growthFactor: 2, initial: 10 } } } }],
    ['nightly 30 min windows in three zones', { sites: (sites) => sites.map((s, i) => ({ ...s, timeZone: zones[i], windows: [{ cron: '0 1 * * *', durationMin: 30 }] })) }],
    ['hourly 5 min windows: each site needs several', { sites: (sites) => sites.map((s) => ({ ...s, windows: [{ cron: '30 * * * *', durationMin: 5 }] })) }],
    ['waves in hourly 10 min windows', { sites: (sites) => sites.map((s) => ({ ...s, windows: [{ cron: '0 * * * *', durationMin: 10 }] })), job: { rollout: { canary: {}, waves: { percents: [30] } } } }],
    ['at most 10 downloads at once', { job: { rollout: { maxConcurrent: 10 } } }],
  ])('%s', (_name, scenario) => {
    const { real, estimate } = both(scenario);
    expect(Math.abs(estimate - real) / real).toBeLessThanOrEqual(0.15);
  });
});
