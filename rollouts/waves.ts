/**
 * Wave planning: which devices go in the canary and in each following wave.
 *
 * The canary is drawn round-robin over the sites (in a seeded order) so every site is represented
 * when the canary has at least one device per site: a firmware that breaks on one site's network
 * shows up before the rest starts. The later waves interleave the sites in proportion to their size,
 * so every wave can use every site's uplink at once instead of draining sites one after another.
 * O(n log n); deterministic for a given seed (the job id), so a restart re-plans identically.
 */
import { seededRandom, shuffle } from './random.js';
import type { RolloutSettings } from './settings.js';

export interface TargetDevice {
  id: string;
  /** Devices without a site share no uplink budget; they are grouped together here. */
  site: string | null;
}

export type WaveSettings = Pick<RolloutSettings, 'canary' | 'waves'>;

/** Devices in the canary: the larger of count and percent; one per site when neither is given. */
export function canarySize(total: number, siteCount: number, canary: RolloutSettings['canary']): number {
  if (!canary) return 0;
  const byPercent = canary.percent === undefined ? 0 : Math.ceil((canary.percent * total) / 100);
  const wanted = canary.count === undefined && canary.percent === undefined ? siteCount : Math.max(canary.count ?? 0, byPercent);
  return Math.min(total, wanted);
}

/** Sizes of the waves after the canary; they add up to `rest`. */
export function waveSizes(total: number, done: number, waves: RolloutSettings['waves']): number[] {
  const rest = total - done;
  if (!waves) return [rest];
  const sizes: number[] = [];
  if ('growthFactor' in waves) {
    for (let left = rest, i = 0; left > 0; i++) {
      const size = Math.min(left, Math.ceil(waves.initial * waves.growthFactor ** i));
      sizes.push(size);
      left -= size;
    }
    return sizes;
  }
  let reached = done;
  for (const p of waves.percents) {
    const cumulative = Math.min(total, Math.ceil((p * total) / 100));
    if (cumulative > reached) sizes.push(cumulative - reached);
    reached = Math.max(reached, cumulative);
  }
  // The job targets every device: shares that stop short of 100 % leave a last wave for the rest.
  if (reached < total) sizes.push(total - reached);
  return sizes;
}

function groupBySite(targets: readonly TargetDevice[], random: () => number): string[][] {
  const groups = new Map<string, string[]>();
  for (const t of targets) {
    const key = t.site ?? '';
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push(t.id);
  }
  // Sorting first makes the plan independent of the order the targets were listed in.
  const ordered = [...groups.keys()].sort().map((k) => shuffle(groups.get(k)!.sort(), random));
  return shuffle(ordered, random);
}

/** Round-robin over sites: the first device of every site, then the second of every site, … */
function drawCanary(groups: string[][], size: number): { canary: string[]; taken: number[] } {
  const canary: string[] = [];
  const taken = groups.map(() => 0);
  for (let round = 0; canary.length < size; round++) {
    for (let s = 0; s < groups.length && canary.length < size; s++) {
      const id = groups[s]![round];
      if (id === undefined) continue;
      canary.push(id);
      taken[s] = round + 1;
    }
  }
  return { canary, taken };
}

/** Stratified order: device k of a site of n sorts at (k + u) / n, so each prefix mixes sites by size. */
function interleave(groups: string[][], taken: number[], random: () => number): string[] {
  const keyed: { id: string; key: number }[] = [];
  groups.forEach((group, s) => {
    const rest = group.slice(taken[s]);
    rest.forEach((id, k) => keyed.push({ id, key: (k + random()) / rest.length }));
  });
  return keyed.sort((a, b) => a.key - b.key).map((d) => d.id);
}

/** The waves, in order, as lists of device ids; the canary (if any) is wave 0. No wave is empty. */
export function planWaves(targets: readonly TargetDevice[], settings: WaveSettings, seed: string): string[][] {
  const random = seededRandom(seed);
  const groups = groupBySite(targets, random);
  const { canary, taken } = drawCanary(groups, canarySize(targets.length, groups.length, settings.canary));
  const rest = interleave(groups, taken, random);
  const waves = canary.length > 0 ? [canary] : [];
  let offset = 0;
  for (const size of waveSizes(targets.length, canary.length, settings.waves)) {
    if (size > 0) waves.push(rest.slice(offset, offset + size));
    offset += size;
  }
  return waves;
}
