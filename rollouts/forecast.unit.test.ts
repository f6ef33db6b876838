import { describe, expect, it } from 'vitest';
import type { RolloutTarget, SchedulerConfig } from './config.js';
import { forecast, NO_SITE } from './forecast.js';
import { BudgetLedger } from './ledger.js';

const SIZE = 1_000_000;
const T0 = Date.parse('2025-03-03T00:00:00Z');
const devices = (site: string | null, n: number, linkKbps?: number): RolloutTarget[] =>
  Array.from({ length: n }, (_, k) => ({ id: `${site ?? 'none'}-${linkKbps ?? 'x'}-${k}`, site, ...(linkKbps ? { linkKbps } : {}) }));
// Budgets at 80 %: a → 400 kB/s, b → 100 kB/s. Each site's devices are as fast as its budget, so a
// site serves one download at a time, back to back: its time is its bytes ÷ its budget, exactly.
const sites = [{ id: 'a', uplinkBytesPerSec: 500_000 }, { id: 'b', uplinkBytesPerSec: 125_000 }];
const job = (o: Partial<SchedulerConfig>): SchedulerConfig => ({ jobId: 'job', sites, firmwareBytes: SIZE, targets: [...devices('a', 8, 3200), ...devices('b', 2, 800)], ...o });

describe('forecast', () => {
  it.each([
    // [name, config, installS, waves, estimatedCompletionS]
    ['one wave: the busiest site sets the pace (b: 2 MB at 100 kB/s)', job({}), 0, [10], 20],
    ['install time is added per wave', job({}), 5, [10], 25],
    ['a slow device can be slower than its site', job({ targets: devices('a', 1, 80) }), 0, [1], 100],
    // canary (a: 2.5 s, b: 10 s); soak 60 s; then a 7 MB at 400 kB/s = 17.5 s vs b 1 MB at 100 kB/s = 10 s
    ['canary and soak', job({ rollout: { canary: {}, soakS: 60 } }), 0, [2, 8], 10 + 60 + 17.5],
    ['the service cap', job({ egressBytesPerSec: 200_000 }), 0, [10], 50],
    // Nightly 01:00 UTC for an hour, asked at midnight: an hour's wait, then the 20 s.
    ['maintenance windows', job({ schedule: { windows: [{ cron: '0 1 * * *', durationMin: 60 }] } }), 0, [10], 3600 + 20],
  ])('%s', (_name, config, installS, waves, completion) => {
    const f = forecast(config, { installS, now: T0 });
    expect(f.waves.map((w) => w.devices)).toEqual(waves);
    expect(f.waves.map((w) => w.index)).toEqual(waves.map((_, i) => i));
    expect(f.estimatedCompletionS).toBeCloseTo(completion, 6);
  });

  it('counts from the scheduled start, and reads the windows from there', () => {
    const windows = [{ cron: '0 1 * * *', durationMin: 60 }];
    const config = job({ schedule: { startAt: new Date(T0 + 3600_000).toISOString(), windows } });
    expect(forecast(config, { now: T0 }).estimatedCompletionS).toBeCloseTo(20, 6);
  });

  it('expects a device that reports no link to move like those that do, not at the prior it is admitted at', () => {
    // One site of 1 MB/s; four devices report 200 kB/s, one reports nothing (planned at 125 kB/s).
    // All five fit at once (925 kB/s planned), each at 200 kB/s: 5 s. At the prior it would be 8 s.
    const big = [{ id: 'big', uplinkBytesPerSec: 1_250_000 }];
    const config = job({ sites: big, targets: [...devices('big', 4, 1600), ...devices('big', 1)] });
    expect(forecast(config).estimatedCompletionS).toBeCloseTo(5, 6);
  });

  it("plans with what the rollouts already running leave of a site", () => {
    const ledger = new BudgetLedger();
    // Another rollout holds 50 kB/s at b, wants no more, and has 250 kB left there: 5 s.
    ledger.join('other', { load: (site) => (site === 'b' ? 50_000 : 0), totalLoad: () => 50_000, bytesLeft: () => new Map([['b', 250_000]]) });
    const config = job({ targets: devices('b', 1, 800) });
    expect(forecast(config, { now: T0 }).estimatedCompletionS).toBeCloseTo(10, 6);
    // 5 s at the 50 kB/s left (250 kB), then the other 750 kB at 100 kB/s.
    expect(forecast(config, { now: T0, ledger }).estimatedCompletionS).toBeCloseTo(12.5, 6);
  });

  it('counts bytes per site, devices without a site apart', () => {
    const f = forecast(job({ targets: [...devices('a', 3), ...devices(null, 2), ...devices('unknown-site', 1)] }));
    expect(f.bytesPerSite).toEqual({ a: 3 * SIZE, [NO_SITE]: 3 * SIZE });
  });

  it.each([
    ['max over sites of bytes ÷ budget', job({}), 20],
    ['or all bytes ÷ the service cap', job({ egressBytesPerSec: 200_000 }), 50],
  ])('lower bound: %s', (_name, config, expected) => {
    expect(forecast(config).lowerBoundS).toBe(expected);
  });

  it('plans the same waves as the real run (same seed, same plan)', () => {
    const config = job({ rollout: { canary: { count: 3 }, waves: { growthFactor: 2, initial: 2 } } });
    expect(forecast(config).waves).toEqual(forecast({ ...config, targets: [...config.targets].reverse() }).waves);
  });
});
