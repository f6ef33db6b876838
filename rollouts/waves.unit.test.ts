import { describe, expect, it } from 'vitest';
import type { RolloutSettings } from './settings.js';
import { canarySize, planWaves, waveSizes, type TargetDevice } from './waves.js';

/** `perSite[i]` devices at site `s{i}`. */
function fleet(perSite: number[]): TargetDevice[] {
  return perSite.flatMap((n, s) => Array.from({ length: n }, (_, k) => ({ id: `s${s}-d${k}`, site: `s${s}` })));
}
const siteOfId = (id: string) => id.split('-')[0];

describe('canarySize', () => {
  it.each([
    ['no canary', 100, 5, undefined, 0],
    ['by count', 100, 5, { count: 7 }, 7],
    ['by percent, rounded up', 101, 5, { percent: 5 }, 6],
    ['both: the larger', 100, 5, { count: 3, percent: 10 }, 10],
    ['neither: one per site', 100, 5, {}, 5],
    ['never more than the fleet', 4, 5, { count: 10 }, 4],
  ] as const)('%s', (_name, total, sites, canary, expected) => {
    expect(canarySize(total, sites, canary)).toBe(expected);
  });
});

describe('waveSizes', () => {
  it.each<[string, number, number, RolloutSettings['waves'], number[]]>([
    ['no waves: the rest at once', 100, 10, undefined, [90]],
    ['cumulative percents', 100, 0, { percents: [10, 50, 100] }, [10, 40, 50]],
    ['percents short of 100 leave a last wave', 100, 0, { percents: [10, 50] }, [10, 40, 50]],
    ['a percent the canary already covers is skipped', 100, 20, { percents: [10, 50] }, [30, 50]],
    ['growth from initial', 100, 0, { growthFactor: 2, initial: 10 }, [10, 20, 40, 30]],
    ['growth after a canary', 25, 5, { growthFactor: 3, initial: 2 }, [2, 6, 12]],
  ])('%s', (_name, total, done, waves, expected) => {
    expect(waveSizes(total, done, waves)).toEqual(expected);
  });
});

describe('planWaves', () => {
  it('puts every device in exactly one wave, none empty', () => {
    const targets = fleet([30, 20, 10]);
    const waves = planWaves(targets, { canary: { count: 3 }, waves: { growthFactor: 2, initial: 5 } }, 'job-1');
    expect(waves.flat().sort()).toEqual(targets.map((t) => t.id).sort());
    expect(waves.map((w) => w.length)).toEqual([3, 5, 10, 20, 22]);
  });

  it.each([
    // [name, devices per site, canary count, sorted per-site counts]: which site gets a round's extra is seeded
    ['one per site when the canary can hold them', [50, 3, 1, 20], 4, [1, 1, 1, 1]],
    ['round-robin beyond one per site', [50, 3, 1, 20], 9, [1, 2, 3, 3]],
    ['a site with no devices left is skipped', [1, 1, 10], 6, [1, 1, 4]],
    ['fewer than the sites: one each from some', [5, 5, 5, 5], 3, [0, 1, 1, 1]],
  ])('draws the canary across sites: %s', (_name, perSite, count, expectedPerSite) => {
    const [canary] = planWaves(fleet(perSite), { canary: { count } }, 'seed');
    const counts = perSite.map((_, s) => canary!.filter((id) => siteOfId(id) === `s${s}`).length);
    expect(counts.sort((a, b) => a - b)).toEqual(expectedPerSite);
  });

  it('is the same plan for the same seed, whatever the order of targets', () => {
    const targets = fleet([40, 25, 7]);
    const settings = { canary: { percent: 5 }, waves: { percents: [20, 60] } };
    const plan = planWaves(targets, settings, 'job-7');
    expect(planWaves([...targets].reverse(), settings, 'job-7')).toEqual(plan);
    expect(planWaves(targets, settings, 'job-8')).not.toEqual(plan);
  });

  it('mixes sites in each wave in proportion to their size', () => {
    const waves = planWaves(fleet([600, 300, 100]), { waves: { percents: [10, 50] } }, 'mix');
    const first = waves[0]!;
    const share = (site: string) => first.filter((id) => siteOfId(id) === site).length;
    expect([share('s0'), share('s1'), share('s2')]).toEqual([60, 30, 10]);
  });

  it('groups devices without a site together', () => {
    const targets = [...fleet([5]), { id: 'loose-1', site: null }, { id: 'loose-2', site: null }];
    const [canary] = planWaves(targets, { canary: {} }, 'x');
    expect(canary).toHaveLength(2);
    expect(canary!.filter((id) => id.startsWith('loose'))).toHaveLength(1);
  });

  it('plans nothing for no targets', () => {
    expect(planWaves([], { canary: {}, waves: { growthFactor: 2, initial: 1 } }, 'x')).toEqual([]);
  });
});
