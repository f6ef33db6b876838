import { describe, expect, it } from 'vitest';
import { seededRandom } from '../rollouts/random.js';
import { BatonError } from '../device-sdk/protocol/errors.js';
import { BucketPool, PacingLimiter, TokenBucket } from './token-bucket.js';

function fakeClock(start = 1_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms), set: (ms: number) => (now = ms) };
}

interface Grant {
  at: number;
  bytes: number;
}

/**
 * The most the grants exceed rate × W + max(depth, the window's last take) over every window
 * between two grants (the worst windows start and end on grants).
 */
function worstExcess(grants: Grant[], rate: number, depth: number): number {
  let worst = -Infinity;
  for (let i = 0; i < grants.length; i++) {
    let sum = 0;
    for (let j = i; j < grants.length; j++) {
      sum += grants[j]!.bytes;
      const allowed = (rate * (grants[j]!.at - grants[i]!.at)) / 1000 + Math.max(depth, grants[j]!.bytes);
      worst = Math.max(worst, sum - allowed);
    }
  }
  return worst;
}


describe('TokenBucket', () => {
  it.each([
    // [steps: [advance ms, take bytes, expected]], rate 1000 B/s, depth 4096
    ['a full bucket grants its depth at once', [[0, 4096, true], [0, 1, false]]],
    ['refills at the rate', [[0, 4096, true], [999, 1000, false], [1, 1000, true]]],
    ['never partially takes', [[0, 4000, true], [0, 200, false], [0, 96, true]]],
    ['a take larger than the depth passes only a full bucket', [[0, 1, true], [0, 5000, false], [1, 5000, true]]],
    ['and leaves a debt repaid at the rate before anything passes', [[0, 5000, true], [904, 1, false], [1, 1, true], [4095, 5000, false], [1, 5000, true]]],
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
    expect(bucket.timeUntil(4097)).toBe(1365); // a take over the depth waits for a full bucket: 4,094 B at 3,000 B/s
    expect(bucket.tryTake(5000)).toBe(false);
  });

  it('a new rate keeps a debt and what is above the new depth is dropped', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ rate: 1000, depth: 4096, clock });
    bucket.tryTake(8192); // 4,096 owed
    clock.advance(1000); // 1,000 repaid at the old rate
    bucket.retune(2000, 100);
    expect([bucket.rate, bucket.depth, bucket.available()]).toEqual([2000, 100, -3096]);
    clock.advance(1600);
    expect(bucket.available()).toBe(100);
    expect(() => bucket.retune(0, 100)).toThrow(BatonError);
  });

  it('credits nothing twice when the clock steps back, and keeps a debt across it', () => {
    const clock = fakeClock(10_000);
    const bucket = new TokenBucket({ rate: 1000, depth: 4096, initial: 0, clock });
    clock.set(5_000);
    expect(bucket.available()).toBe(0);
    clock.set(10_500);
    expect(bucket.available()).toBe(500);
    expect(bucket.tryTake(500)).toBe(true);
    clock.set(0);
    expect([bucket.tryTake(1), bucket.timeUntil(1)]).toEqual([false, 1]);
  });

  it('refuses a negative take with a typed error', () => {
    const bucket = new TokenBucket({ rate: 1000, depth: 4096, clock: fakeClock() });
    expect(() => bucket.tryTake(-1)).toThrow(BatonError);
    expect(() => new TokenBucket({ rate: Infinity, depth: 1, clock: fakeClock() })).toThrow(BatonError);
  });

  it.each([
    // [rate, depth, largest take]: takes up to the depth, and up to 4× it (paid on credit)
    [1000, 4096, 4096],
    [65_536, 4096, 4096],
    [250, 16_384, 16_384],
    [26_214, 262, 4096],
    [52_428, 524, 16_384],
  ])('never exceeds rate × window + max(depth, last take) (rate %i, depth %i, takes ≤ %i), stalls included', (rate, depth, largest) => {
    const clock = fakeClock();
    const random = seededRandom(rate ^ depth);
    const bucket = new TokenBucket({ rate, depth, clock });
    const grants: Grant[] = [];
    for (let step = 0; step < 4000; step++) {
      // Mostly busy polling, sometimes a long event-loop stall.
      clock.advance(random() < 0.01 ? 30_000 + random() * 600_000 : random() * 50);
      const bytes = Math.ceil(random() * largest);
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
    expect(limiter.tryTake(4096)).toBe(true); // over the global depth: that one is left owing
    expect([device.available(), site.available(), global.available()]).toEqual([0, 4096, -2048]);
    expect(limiter.tryTake(1)).toBe(false);
    expect([device.available(), site.available(), global.available()]).toEqual([0, 4096, -2048]);
    expect(limiter.timeUntil(2048)).toBe(4096); // the global's debt, then its full depth
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
