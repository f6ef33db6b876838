import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_DEPTH_BYTES } from '../../firmware-updates/pacing.js';
import { SimClock } from './sim-clock.js';
import { EnvelopeMeter, SiteMeter } from './sim-report.js';

describe('SimClock', () => {
  it('runs events by time, then in the order they were scheduled, and never in the past', () => {
    const clock = new SimClock<string>(1000);
    clock.at(3000, 'c');
    clock.at(2000, 'a');
    clock.at(2000, 'b');
    clock.at(500, 'now');
    const seen: [string, number][] = [];
    for (let e = clock.next(); e; e = clock.next()) seen.push([e, clock.now()]);
    expect(seen).toEqual([['now', 1000], ['a', 2000], ['b', 2000], ['c', 3000]]);
  });
});

describe('EnvelopeMeter (rate 1,000 B/s, 500 B blocks, 1 s windows: 1,000 + 500 B)', () => {
  it.each([
    ['steady at the rate', [[0, 500], [500, 500], [1000, 500], [1500, 500]], 0],
    ['rate × 1 s + depth in one window is allowed', [[0, 1000], [1000, 500]], 0],
    ['one byte over (plus rounding slack) is not', [[0, 1000], [1000, 502]], 1],
    ['a burst after a quiet second is fine', [[0, 500], [2000, 1500]], 0],
    ['every window ending on a grant is checked', [[0, 1500], [900, 100], [950, 100]], 2],
  ])('%s', (_name, grants, violations) => {
    const meter = new EnvelopeMeter(1000, 500, DEFAULT_MAX_DEPTH_BYTES);
    for (const [at, bytes] of grants) meter.add(at!, bytes!);
    expect(meter.violations).toBe(violations);
  });
});

describe('SiteMeter', () => {
  it('divides bytes by budget × the time with pending devices', () => {
    const meter = new SiteMeter(1000, 100, DEFAULT_MAX_DEPTH_BYTES);
    meter.pendingChange(1, 0);
    meter.grant(0, 4000);
    meter.pendingChange(-1, 5000); // 5 s pending
    meter.pendingChange(1, 9000);
    meter.grant(9000, 1000);
    meter.close(10_000); // and 1 s more
    expect([meter.pendingMs, meter.utilization()]).toEqual([6000, 5000 / 6000]);
  });
});
