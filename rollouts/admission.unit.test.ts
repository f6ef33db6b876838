import { describe, expect, it } from 'vitest';
import { byUrgency, fillSite, notificationsLeft, siteLoad, wantsMore, type DownloadView, type Limits } from './admission.js';

const view = (o: Partial<DownloadView>): DownloadView => ({ expected: 100, measured: undefined, secondsLeft: 60, unstarted: false, live: true, ...o });

describe('siteLoad', () => {
  it.each([
    ['sums expected rates', [view({}), view({ expected: 50 })], { load: 150, holding: 2, spare: 0, freeing: 0 }],
    ['a paused or stalled download holds nothing', [view({ live: false })], { load: 0, holding: 0, spare: 0, freeing: 0 }],
    ['one about to end frees its throughput', [view({ secondsLeft: 2, measured: 80 })], { load: 0, holding: 0, spare: 0, freeing: 80 }],
    ['one not started holds even if short', [view({ secondsLeft: 1, unstarted: true })], { load: 100, holding: 1, spare: 0, freeing: 0 }],
    ['held back by the buckets: spare', [view({ measured: 60 })], { load: 100, holding: 1, spare: 40, freeing: 0 }],
    ['at its rate: no spare', [view({ measured: 95 })], { load: 100, holding: 1, spare: 0, freeing: 0 }],
  ])('%s', (_name, downloads, expected) => {
    expect(siteLoad(downloads, 3)).toEqual(expected);
  });
});

describe('wantsMore', () => {
  it.each([
    ['below budget', { load: 50, holding: 1, spare: 0, freeing: 0 }, false, true],
    ['at budget', { load: 100, holding: 1, spare: 0, freeing: 0 }, false, false],
    ['saturated, and the held-back can absorb what ends', { load: 50, holding: 2, spare: 30, freeing: 20 }, true, false],
    ['saturated, but more ends than they can absorb', { load: 50, holding: 2, spare: 10, freeing: 20 }, true, true],
    ['held back but not saturated (a slow sample)', { load: 50, holding: 2, spare: 30, freeing: 0 }, false, true],
  ])('%s', (_name, load, saturated, expected) => {
    expect(wantsMore(load, 100, saturated)).toBe(expected);
  });
});

describe('fillSite', () => {
  const limits = (o: Partial<Limits> = {}): Limits => ({ slots: Infinity, notifications: Infinity, egress: Infinity, ...o });
  const rates: Record<string, number> = { a: 40, b: 40, c: 40, d: 40 };
  const fill = (load: number, l: Limits, blocked: string[] = []) =>
    fillSite({ budget: 100, load, candidates: ['a', 'b', 'c', 'd'], rateOf: (id) => rates[id]!, mayStart: (id) => !blocked.includes(id) }, l);

  // `full`: stopped by the budget with candidates left; the ledger then counts the rollout as wanting more.
  it.each([
    ['fills to the budget, the last one crossing it', 0, limits(), [], ['a', 'b', 'c'], true],
    ['tops up what is in flight', 70, limits(), [], ['a'], true],
    ['nothing when full', 100, limits(), [], [], true],
    ['skips those that may not start', 0, limits(), ['a'], ['b', 'c', 'd'], false],
    ['stops at maxConcurrent', 0, limits({ slots: 2 }), [], ['a', 'b'], false],
    ['stops at maxPerMinute', 0, limits({ notifications: 1 }), [], ['a'], false],
    ['stops at the service cap', 0, limits({ egress: 50 }), [], ['a', 'b'], false],
  ])('%s', (_name, load, l, blocked, admitted, full) => {
    expect(fill(load, l, blocked)).toEqual({ admitted, full });
  });

  it('spends the job-wide limits it uses', () => {
    const l = limits({ slots: 10, notifications: 10, egress: 1000 });
    fill(0, l);
    expect(l).toEqual({ slots: 7, notifications: 7, egress: 880 });
  });
});

describe('notificationsLeft', () => {
  it.each([
    ['no limit', [1, 2, 3], undefined, 100_000, Infinity, [1, 2, 3]],
    ['counts the last minute only', [10_000, 50_000, 90_000], 5, 100_000, 3, [50_000, 90_000]],
    ['never negative', [99_000, 99_500, 99_900], 2, 100_000, 0, [99_000, 99_500, 99_900]],
    ['a notification exactly a minute old has expired', [40_000], 1, 100_000, 1, []],
  ])('%s', (_name, log, max, now, left, kept) => {
    const l = [...log];
    expect(notificationsLeft(l, max, now)).toBe(left);
    expect(l).toEqual(kept);
  });
});

describe('byUrgency', () => {
  it('puts the site with the most work per budget first, ties by id', () => {
    const sites = [
      { site: 'fast', waitingBytes: 1000, budget: 100 },
      { site: 'slow', waitingBytes: 1000, budget: 10 },
      { site: 'big', waitingBytes: 5000, budget: 100 },
      { site: 'also-fast', waitingBytes: 1000, budget: 100 },
    ];
    expect(byUrgency(sites).map((s) => s.site)).toEqual(['slow', 'big', 'also-fast', 'fast']);
  });
});
