import { describe, expect, it } from 'vitest';
import { forecast } from '../../rollouts/forecast.js';
import { makeFleet, type FleetSpec } from './sim-fleet.js';
import { simulate } from './simulate.js';
import type { SimOptions } from './sim-types.js';

const START = Date.parse('2025-03-03T00:00:00Z');
// 300 devices over 3 sites (2 to 8 Mbit/s uplinks), links of 0.5 to 4 Mbit/s, 30 % unreported, 10 % overstated.
const spec: FleetSpec = { devices: 300, sites: 3, seed: 'unit', uplink: { min: 250_000, max: 1_000_000 }, link: { min: 62_500, max: 500_000 }, unknownLinkShare: 0.3, overstateShare: 0.1 };

function run(fleetSpec: Partial<FleetSpec> = {}, job: Partial<SimOptions['job']> = {}, extra: Partial<SimOptions> = {}) {
  const fleet = makeFleet({ ...spec, ...fleetSpec });
  const options: SimOptions = { job: { jobId: 'unit', sites: fleet.sites, firmwareBytes: 1 << 20, ...job }, devices: fleet.devices, startAt: START, blockBytes: 16_384, ...extra };
  return { report: simulate(options), fleet, options };
}

describe('simulated rollouts', () => {
  it('keeps every site budget used while it has pending devices, inside the envelope', () => {
    const { report } = run();
    expect(report.statuses).toEqual({ SUCCEEDED: 300 });
    for (const site of Object.values(report.sites)) expect(site.utilization).toBeGreaterThanOrEqual(0.95);
    expect(report.capViolations).toBe(0);
    expect(report.makespanS / report.lowerBoundS).toBeLessThanOrEqual(1.05);
  });

  it('admits nobody after an abort crossing, with a failing share and devices dropping offline', () => {
    const abort = { criteria: [{ failureType: 'ALL' as const, thresholdPercentage: 10, minExecuted: 10 }] };
    const { report } = run({ failShare: 0.3, dropShare: 0.1 }, { abort });
    expect([report.phase, report.stop?.kind, report.admittedAfterStop]).toEqual(['aborted', 'abort-criterion', 0]);
    expect(report.admitted).toBeLessThan(300);
    // Every device never admitted is canceled, and so is any notified one that had not started.
    expect(report.statuses.CANCELED).toBeGreaterThanOrEqual(300 - report.admitted);
  });

  it('starts no download its window cannot hold, in each site zone', () => {
    const zones = ['Europe/Berlin', 'Asia/Tokyo', 'America/New_York'];
    const fleet = makeFleet(spec);
    const sites = fleet.sites.map((s, i) => ({ ...s, timeZone: zones[i]!, windows: [{ cron: '0 1 * * *', durationMin: 30 }] }));
    const report = simulate({ job: { jobId: 'unit', sites, firmwareBytes: 1 << 20 }, devices: fleet.devices, startAt: START, blockBytes: 16_384 });
    expect([report.statuses, report.windowInterruptions]).toEqual([{ SUCCEEDED: 300 }, 0]);
  });

  it('finishes devices that drop offline mid-download, resuming where they were', () => {
    const { report } = run({ dropShare: 0.2, offlineS: 20 });
    expect(report.statuses).toEqual({ SUCCEEDED: 300 });
    expect(report.makespanS / report.lowerBoundS).toBeLessThanOrEqual(1.1);
  });

  it('resumes after restarts with waves, budgets and partial downloads, as if none happened', () => {
    const job = { rollout: { canary: {}, waves: { growthFactor: 2, initial: 20 } } };
    const straight = run({}, job).report;
    const restarted = run({}, job, { restartAtS: [15, 100, 300] }).report;
    expect(restarted.statuses).toEqual({ SUCCEEDED: 300 });
    expect(restarted.events.filter((e) => e.type === 'wave-released')).toHaveLength(5);
    expect(restarted.finishedS / straight.finishedS).toBeCloseTo(1, 1);
  });

  it('matches its dry-run forecast', () => {
    const job = { rollout: { canary: {}, waves: { growthFactor: 2, initial: 20 }, soakS: 30 } };
    const { report, fleet, options } = run({}, job, { installS: 5 });
    const dry = forecast({ ...options.job, targets: fleet.devices }, { installS: 5 });
    expect(dry.waves.map((w) => w.devices)).toEqual([3, 20, 40, 80, 157]);
    expect(report.finishedS / dry.estimatedCompletionS).toBeGreaterThan(0.95);
    expect(report.finishedS / dry.estimatedCompletionS).toBeLessThan(1.1);
  });
});
