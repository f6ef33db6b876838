import { describe, expect, it } from 'vitest';
import type { RolloutTarget, SchedulerConfig } from './config.js';
import { forecast, NO_SITE } from './forecast.js';

const SIZE = 1_000_000;
const devices = (site: string | null, n: number, linkKbps = 800): RolloutTarget[] => Array.from({ length: n }, (_, k) => ({ id: `${site ?? 'none'}-${k}`, site, linkKbps }));
// Budgets at 80 %: a → 400 kB/s, b → 100 kB/s. Devices at 100 kB/s take 10 s alone.
const sites = [{ id: 'a', uplinkBytesPerSec: 500_000 }, { id: 'b', uplinkBytesPerSec: 125_000 }];
const job = (o: Partial<SchedulerConfig>): SchedulerConfig => ({ jobId: 'job', sites, firmwareBytes: SIZE, targets: [...devices('a', 8), ...devices('b', 2)], ...o });

describe('forecast', () => {
  it.each([
    // [name, config, installS, waves, estimatedCompletionS]
    ['one wave: the busiest site sets the pace (b: 2 MB at 100 kB/s)', job({}), 0, [10], 20],
    ['install time is added per wave', job({}), 5, [10], 25],
    ['a slow device can be slower than its site', job({ targets: [...devices('a', 1, 80)] }), 0, [1], 100],
    // canary (a, b) in 10 s; then a 7 MB at 400 kB/s = 17.5 s vs b 1 MB at 100 kB/s = 10 s; soak 60 s between
    ['canary and soak', job({ rollout: { canary: {}, soakS: 60 } }), 0, [2, 8], 10 + 60 + 17.5],
    ['the service cap', job({ egressBytesPerSec: 200_000 }), 0, [10], 50],
  ])('%s', (_name, config, installS, waves, completion) => {
    const f = forecast(config, { installS });
    expect(f.waves.map((w) => w.devices)).toEqual(waves);
    expect(f.waves.map((w) => w.index)).toEqual(waves.map((_, i) => i));
    expect(f.estimatedCompletionS).toBeCloseTo(completion, 6);
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
