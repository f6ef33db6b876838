import { describe, expect, it } from 'vitest';
import { BucketPool, PacingLimiter, TokenBucket } from './token-bucket.js';

function fakeClock(start = 1_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms), set: (ms: number) => (now = ms) };
}

interface Grant {
  at: number;
  bytes: number;
}

/** Checks rate × W + depth over every window between two grants (the worst windows start and end on grants). */
function worstExcess(grants: Grant[], rate: number, depth: number): number {
  let worst = -Infinity;
  for (let i = 0; i < grants.length; i++) {
    let sum = 0;
    for (let j = i; j < grants.length; j++) {
      sum += grants[j]!.bytes;
      const allowed = (rate * (grants[j]!.at - grants[i]!.at)) / 1000 + depth;
      worst = Math.max(worst, sum - allowed);
    }
  }
  return worst;
}

/** Deterministic PRNG (mulberry32) so the envelope test is reproducible. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('TokenBucket', () => {
  it.each([
    // [steps: [advance ms, take bytes, expected]], rate 1000 B/s, depth 4096
    ['a full bucket grants its depth at once', [[0, 4096, true], [0, 1, false]]],
    ['refills at the rate', [[0, 4096, true], [999, 1000, false], [1, 1000, true]]],
    ['never partially takes', [[0, 4000, true], [0, 200, false], [0, 96, true]]],
    ['a take larger than the depth never succeeds', [[60_000, 4097, false]]],
    ['a stall refills only up to the depth', [[0, 4096, true], [3_600_000, 4096, true], [0, 1, false]]],
  ] as const)('%s', (_name, steps) => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ rate: 1000, depth: 4096, clock });
    for (const [advance, take, expected] of steps) {
      clock.advance(advance);
      expect(bucket.tryTake(take)).toBe(expected);
    }
  });

  it('says how long until a take can succeed, and is right', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ rate: 3000, depth: 4096, clock });
    expect(bucket.timeUntil(4096)).toBe(0);
    bucket.tryTake(4096);
    expect(bucket.timeUntil(1000)).toBe(334);
    clock.advance(333);
    expect(bucket.tryTake(1000)).toBe(false);
    clock.advance(1);
    expect(bucket.tryTake(1000)).toBe(true);
    expect(bucket.timeUntil(4097)).toBe(Infinity);
  });

  it('credits nothing twice when the clock steps back', () => {
    const clock = fakeClock(10_000);
    const bucket = new TokenBucket({ rate: 1000, depth: 4096, initial: 0, clock });
    clock.set(5_000);
    expect(bucket.available()).toBe(0);
    clock.set(10_500);
    expect(bucket.available()).toBe(500);
  });

  it.each([
    [1000, 4096],
    [65_536, 4096],
    [250, 16_384],
  ])('never exceeds rate x window + depth (rate %i, depth %i), stalls included', (rate, depth) => {
    const clock = fakeClock();
    const random = prng(rate ^ depth);
    const bucket = new TokenBucket({ rate, depth, clock });
    const grants: Grant[] = [];
    for (let step = 0; step < 2000; step++) {
      // Mostly busy polling, sometimes a long event-loop stall.
      clock.advance(random() < 0.01 ? 30_000 + random() * 600_000 : random() * 50);
      const bytes = Math.ceil(random() * depth);
      if (bucket.tryTake(bytes)) grants.push({ at: clock.now(), bytes });
    }
    expect(grants.length).toBeGreaterThan(100);
    expect(worstExcess(grants, rate, depth)).toBeLessThanOrEqual(1e-6);
  });
});

describe('PacingLimiter', () => {
  it('takes from every bucket or from none', () => {
    const clock = fakeClock();
    const device = new TokenBucket({ rate: 1000, depth: 4096, clock });
    const site = new TokenBucket({ rate: 1000, depth: 8192, clock });
    const global = new TokenBucket({ rate: 1000, depth: 2048, clock });
    const limiter = new PacingLimiter([device, site, global]);
    expect(limiter.tryTake(4096)).toBe(false);
    expect([device.available(), site.available(), global.available()]).toEqual([4096, 8192, 2048]);
    expect(limiter.tryTake(2048)).toBe(true);
    expect([device.available(), site.available(), global.available()]).toEqual([2048, 6144, 0]);
    expect(limiter.timeUntil(2048)).toBe(2048);
  });

  it('holds the tightest envelope across a stall', () => {
    const clock = fakeClock();
    const limiter = new PacingLimiter([
      new TokenBucket({ rate: 5000, depth: 8192, clock }),
      new TokenBucket({ rate: 2000, depth: 4096, clock }),
    ]);
    const grants: Grant[] = [];
    for (let step = 0; step < 400; step++) {
      clock.advance(step === 200 ? 3_600_000 : 100);
      if (limiter.tryTake(1024)) grants.push({ at: clock.now(), bytes: 1024 });
    }
    expect(worstExcess(grants, 2000, 4096)).toBeLessThanOrEqual(0);
  });
});

describe('BucketPool', () => {
  it('creates a bucket per key and sweeps only the full ones', () => {
    const clock = fakeClock();
    const pool = new BucketPool({ rate: 1000, depth: 4096, clock });
    pool.get('dev-1').tryTake(4096);
    pool.get('dev-2');
    expect(pool.sweep()).toBe(1);
    expect(pool.size).toBe(1);
    expect(pool.get('dev-1').available()).toBe(0);
    clock.advance(5000);
    expect(pool.sweep()).toBe(1);
  });
});
