import { describe, expect, it } from 'vitest';
import { createWindowResolver, MaintenanceWindows, type WindowSpec } from './windows.js';

const t = (iso: string) => Date.parse(iso);
const nightly: WindowSpec[] = [{ cron: '0 2 * * *', durationMin: 120 }]; // 02:00–04:00 local

describe('MaintenanceWindows in a time zone', () => {
  const berlin = new MaintenanceWindows(nightly, 'Europe/Berlin');
  it.each([
    // [name, now, open, windowEnd, nextWindowStart]
    ['winter, 02:30 CET is open', '2025-01-15T01:30:00Z', true, '2025-01-15T03:00:00Z', '2025-01-15T01:30:00Z'],
    ['winter, 01:59 CET is closed', '2025-01-15T00:59:00Z', false, undefined, '2025-01-15T01:00:00Z'],
    ['opens exactly at the start', '2025-01-15T01:00:00Z', true, '2025-01-15T03:00:00Z', '2025-01-15T01:00:00Z'],
    ['closed exactly at the end', '2025-01-15T03:00:00Z', false, undefined, '2025-01-16T01:00:00Z'],
    ['summer, 02:30 CEST is open (UTC+2)', '2025-07-15T00:30:00Z', true, '2025-07-15T02:00:00Z', '2025-07-15T00:30:00Z'],
    ['summer, 03:30 UTC is 05:30 CEST: closed', '2025-07-15T03:30:00Z', false, undefined, '2025-07-16T00:00:00Z'],
  ])('%s', (_name, now, open, end, next) => {
    expect(berlin.isInWindow(t(now))).toBe(open);
    expect(berlin.windowEnd(t(now))).toBe(end === undefined ? undefined : t(end));
    expect(berlin.nextWindowStart(t(now))).toBe(t(next));
  });

  it('answers the same after time goes back (the cache holds only forward)', () => {
    const w = new MaintenanceWindows(nightly, 'UTC');
    expect(w.isInWindow(t('2025-01-15T02:30:00Z'))).toBe(true);
    expect(w.isInWindow(t('2025-01-15T01:30:00Z'))).toBe(false);
    expect(w.isInWindow(t('2025-01-15T03:59:59Z'))).toBe(true);
  });

  it('a window with its own zone ignores the default', () => {
    const tokyo = new MaintenanceWindows([{ ...nightly[0]!, timeZone: 'Asia/Tokyo' }], 'Europe/Berlin');
    expect(tokyo.isInWindow(t('2025-01-14T17:30:00Z'))).toBe(true); // 02:30 JST
  });
});

describe('several windows', () => {
  it.each([
    ['touching windows merge', [{ cron: '0 1 * * *', durationMin: 60 }, { cron: '0 2 * * *', durationMin: 60 }], '2025-01-15T01:30:00Z', '2025-01-15T03:00:00Z'],
    ['overlapping windows merge', [{ cron: '0 1 * * *', durationMin: 90 }, { cron: '0 2 * * *', durationMin: 60 }], '2025-01-15T01:10:00Z', '2025-01-15T03:00:00Z'],
    ['a gap keeps them apart', [{ cron: '0 1 * * *', durationMin: 30 }, { cron: '0 2 * * *', durationMin: 60 }], '2025-01-15T01:10:00Z', '2025-01-15T01:30:00Z'],
    ['weekdays only: Saturday is closed', [{ cron: '0 1 * * 1-5', durationMin: 60 }], '2025-01-18T01:30:00Z', undefined],
  ])('%s', (_name, specs, now, end) => {
    const w = new MaintenanceWindows(specs, 'UTC');
    expect(w.windowEnd(t(now))).toBe(end === undefined ? undefined : t(end));
  });

  it('a set that covers all time is always open', () => {
    const w = new MaintenanceWindows([{ cron: '0 * * * *', durationMin: 90 }], 'UTC');
    expect(w.isInWindow(t('2025-01-15T13:59:00Z'))).toBe(true);
    expect(w.windowEnd(t('2025-01-15T13:59:00Z'))).toBeGreaterThan(t('2025-01-16T00:00:00Z'));
  });

  it('no windows: always open, never closing', () => {
    const w = new MaintenanceWindows([]);
    expect([w.isInWindow(0), w.windowEnd(0), w.nextWindowStart(5), w.alwaysOpen]).toEqual([true, Infinity, 5, true]);
  });
});

describe('canFinishInWindow', () => {
  const w = new MaintenanceWindows(nightly, 'UTC'); // at 02:30 there are 5400 s left
  it.each([
    ['ends exactly at the close', 5_400_000, 1000, '2025-01-15T02:30:00Z', true],
    ['one second too long', 5_401_000, 1000, '2025-01-15T02:30:00Z', false],
    ['a faster link makes it', 5_401_000, 2000, '2025-01-15T02:30:00Z', true],
    ['closed: never starts', 1, 1_000_000, '2025-01-15T05:00:00Z', false],
    ['no rate: never finishes', 1, 0, '2025-01-15T02:30:00Z', false],
    ['nothing left to send', 0, 0, '2025-01-15T02:30:00Z', true],
  ])('%s', (_name, bytes, rate, now, expected) => {
    expect(w.canFinishInWindow(bytes, rate, t(now))).toBe(expected);
  });
});

describe('createWindowResolver', () => {
  const job: WindowSpec[] = [{ cron: '0 1 * * *', durationMin: 60 }];
  const siteWindows: WindowSpec[] = [{ cron: '0 3 * * *', durationMin: 60 }];
  const own: WindowSpec[] = [{ cron: '0 5 * * *', durationMin: 60 }];
  const resolve = createWindowResolver(job);
  it.each([
    // [name, device, site, an instant inside the expected window (UTC)]
    ['the job windows in UTC', {}, undefined, '2025-01-15T01:30:00Z'],
    ['the job windows in the site zone', {}, { id: 's', timeZone: 'Asia/Tokyo' }, '2025-01-14T16:30:00Z'],
    ['the device zone over the site zone', { timeZone: 'UTC' }, { id: 's', timeZone: 'Asia/Tokyo' }, '2025-01-15T01:30:00Z'],
    ['the site windows over the job windows', {}, { id: 's', windows: siteWindows }, '2025-01-15T03:30:00Z'],
    ['the device windows over the site windows', { windows: own }, { id: 's', windows: siteWindows }, '2025-01-15T05:30:00Z'],
  ])('%s', (_name, device, site, inside) => {
    expect(resolve('d1', device, site).isInWindow(t(inside))).toBe(true);
  });

  it('shares one instance among devices that resolve alike', () => {
    const site = { id: 's', windows: siteWindows };
    expect(resolve('a', {}, site)).toBe(resolve('b', {}, site));
    expect(resolve('a', { windows: own }, site)).not.toBe(resolve('b', { windows: own }, site));
  });
});
