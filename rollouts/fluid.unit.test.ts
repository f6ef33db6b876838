import { describe, expect, it } from 'vitest';
import { siteFinish, type FluidDevice, type FluidSite } from './fluid.js';
import { MaintenanceWindows } from './windows.js';

const T0 = Date.parse('2025-03-03T00:00:00Z');
const open = new MaintenanceWindows([]);
const dev = (rate: number, o: Partial<FluidDevice> = {}): FluidDevice => ({ planned: rate, rate, windows: open, ...o });
const seconds = (end: number) => (end - T0) / 1000;
// Without lookahead or learning time unless a test is about them: the arithmetic stays plain.
const finish = (budget: number, devices: FluidDevice[], bytes: number, o: { claims?: FluidSite['claims'] } & Partial<FluidSite['tuning']> = {}) => {
  const { claims = [], ...tuning } = o;
  return seconds(siteFinish({ budget, claims, tuning: { lookaheadS: 0, tauS: 0, saturation: 0.9, ...tuning } }, devices, bytes, T0));
};

describe('siteFinish', () => {
  it.each([
    // [name, budget, device rates, bytes, seconds]
    ['devices as fast as the site: one after another', 100, [100, 100, 100], 300, 9],
    ['devices slower than the site: it admits enough to fill it, and they share it', 100, [40, 40, 40], 400, 12],
    ['one slow device alone is the limit', 100, [10], 400, 40],
    // Two start (60 < 100, then 120): 50 each for 1.2 s; the third alone cannot fill the site: 1 s more.
    ['the tail: the last device alone cannot fill its site', 100, [60, 60, 60], 60, 2.2],
    ['max-min sharing: slow ones keep their rate, the fast one gets the rest', 100, [10, 10, 100], 100, 10],
    ['devices that share no uplink each go at their own rate', Infinity, [10, 50, 100], 500, 50],
  ])('%s', (_name, budget, rates, bytes, expected) => {
    expect(finish(budget, rates.map((r) => dev(r)), bytes)).toBeCloseTo(expected, 6);
  });

  it('admits at the planned rate, then counts the rate it learns', () => {
    // Planned at 100 (a prior that fills the site alone), moving at 25: after 2 s it counts at 25,
    // so the other three start then, 50 bytes behind it.
    const devices = [dev(0, { planned: 100, rate: 25 }), dev(25), dev(25), dev(25)];
    expect(finish(100, devices, 250, { tauS: 2 })).toBeCloseTo(12, 6);
  });

  it('starts the next download when the one holding the site is near its end', () => {
    // 100 bytes each at 100 B/s: the second starts 0.5 s before the first ends, and they share.
    expect(finish(100, [dev(100), dev(100)], 100, { lookaheadS: 0.5 })).toBeCloseTo(2, 6);
    // Three 60 B/s downloads of 60 bytes: the pair shares 100 B/s until 0.2 s before its end
    // (1.0 s), then the third joins and the three split the site: the tail is shorter than 2.2 s.
    expect(finish(100, [dev(60), dev(60), dev(60)], 60, { lookaheadS: 0.2 })).toBeLessThan(2.2);
  });

  it('plans around what other rollouts hold until their bytes are through', () => {
    // 50 of 100 held for 10 s: 500 bytes at 50, then the other 500 at 100.
    expect(finish(100, [dev(100)], 1000, { claims: [{ rate: 50, until: T0 + 10_000 }] })).toBeCloseTo(15, 6);
  });

  it('waits for a window that can hold the whole download, and pauses none', () => {
    // Nightly 01:00–01:10 UTC: 3,000 bytes at 10 B/s take 300 s, inside 600 s.
    const nightly = new MaintenanceWindows([{ cron: '0 1 * * *', durationMin: 10 }]);
    expect(finish(100, [dev(10, { windows: nightly })], 3000)).toBeCloseTo(3600 + 300, 6);
    // Too long for one window (12,000 bytes = 1,200 s): never started, left out.
    expect(finish(100, [dev(10, { windows: nightly })], 12_000)).toBe(0);
  });

  it('starts a device only if its window holds the download at its share of the site', () => {
    // A window of 10 min = 600 s; 100 B/s site; downloads of 24,000 bytes at 100 B/s take 240 s alone.
    // Two fit in one window one after another (or side by side at 50 each: 480 s); the third
    // would end at 720 s: it waits for the next night.
    const nightly = new MaintenanceWindows([{ cron: '0 1 * * *', durationMin: 10 }]);
    const devices = [dev(100, { windows: nightly }), dev(100, { windows: nightly }), dev(100, { windows: nightly })];
    expect(finish(100, devices, 24_000)).toBeCloseTo(86_400 + 3600 + 240, 6);
  });
});
