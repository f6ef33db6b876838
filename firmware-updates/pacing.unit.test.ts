import { describe, expect, it } from 'vitest';
import { seededRandom } from '../rollouts/random.js';
import { bucketDepth, createPacing, DEFAULT_MAX_DEPTH_BYTES, envelopeBytes, type PacedSite, type Pacing } from './pacing.js';

const KiB = 1024;

function fakeClock(start = 0) {
  let now = start;
  return { now: () => now, set: (ms: number) => (now = ms), advance: (ms: number) => (now += ms) };
}


interface Grant {
  at: number;
  bytes: number;
}

interface DriveOptions {
  pacing: Pacing;
  clock: ReturnType<typeof fakeClock>;
  devices: number;
  site: PacedSite | undefined;
  blockBytes: number;
  durationMs: number;
  seed: number;
  /** How late a timer fires, at most (ms): Node's are ~1 ms late, more on a busy loop. */
  lateMs: number;
  /** An event-loop stall: nothing runs from `at` for `ms`. */
  stall?: { at: number; ms: number };
}

/**
 * Devices fetching blocks the way broker/firmware/delivery.ts serves them: try the limiter; if it
 * refuses, sleep max(1, timeUntil) ms (and a timer fires late); once granted, the block is sent
 * and the device's next block is tried at once. Returns every grant.
 */
function drive(o: DriveOptions): Grant[] {
  const random = seededRandom(o.seed);
  const grants: Grant[] = [];
  const wakes = Array.from({ length: o.devices }, (_, i) => ({ id: `dev-${i}`, at: random() * 5 }));
  for (;;) {
    wakes.sort((a, b) => a.at - b.at);
    const next = wakes[0]!;
    if (next.at > o.durationMs) return grants;
    let at = next.at;
    if (o.stall && at >= o.stall.at && at < o.stall.at + o.stall.ms) at = o.stall.at + o.stall.ms;
    o.clock.set(at);
    const limiter = o.pacing.limiterFor(next.id, o.site);
    if (limiter.tryTake(o.blockBytes)) {
      grants.push({ at, bytes: o.blockBytes });
      next.at = at;
    } else {
      next.at = at + Math.max(1, limiter.timeUntil(o.blockBytes)) + random() * o.lateMs;
    }
  }
}

/** The most bytes granted in any window of `windowMs` (grants in time order; the worst windows start on a grant). */
function busiest(grants: readonly Grant[], windowMs: number): number {
  let most = 0;
  let sum = 0;
  let end = 0;
  for (let start = 0; start < grants.length; start++) {
    while (end < grants.length && grants[end]!.at - grants[start]!.at < windowMs) sum += grants[end++]!.bytes;
    most = Math.max(most, sum);
    sum -= grants[start]!.bytes;
  }
  return most;
}

describe('link-true pacing', () => {
  it('sizes a bucket at 10 ms of its own rate, under the ceiling', () => {
    expect(bucketDepth(26_214, DEFAULT_MAX_DEPTH_BYTES)).toBeCloseTo(262.14);
    expect(bucketDepth(200e6, DEFAULT_MAX_DEPTH_BYTES)).toBe(DEFAULT_MAX_DEPTH_BYTES);
    // Small links: exactly rate × W + one block. Fast ones: + 10 ms of the rate when that is more.
    expect(envelopeBytes(26_214, 1000, 4 * KiB, DEFAULT_MAX_DEPTH_BYTES)).toBe(26_214 + 4 * KiB);
    expect(envelopeBytes(10e6, 1000, 4 * KiB, DEFAULT_MAX_DEPTH_BYTES)).toBe(10e6 + 100_000);
  });

  // The sites of the issue: 32 KiB/s and 64 KiB/s uplinks, budgets of 80 %.
  describe.each([
    { uplink: 32 * KiB, budget: 26_214 },
    { uplink: 64 * KiB, budget: 52_428 },
  ])('a site of $uplink B/s uplink (budget $budget B/s)', ({ uplink, budget }) => {
    const site = { id: 'plant', uplinkBytesPerSec: uplink };

    it.each([4 * KiB, 16 * KiB])('sends at most 0.8 × U × W + one block of %i B in any window, through a stall, and keeps the link busy', (blockBytes) => {
      const clock = fakeClock();
      const pacing = createPacing({ deviceBytesPerSec: 0, globalBytesPerSec: 0, maxDepthBytes: DEFAULT_MAX_DEPTH_BYTES, clock });
      const durationMs = 60_000;
      const stall = { at: 20_000, ms: 5000 };
      const grants = drive({ pacing, clock, devices: 6, site, blockBytes, durationMs, seed: blockBytes ^ uplink, lateMs: 3, stall });
      for (const w of [1, 2, 5, 10]) expect(busiest(grants, w * 1000)).toBeLessThanOrEqual(0.8 * uplink * w + blockBytes);
      // Nothing banked over the stall: the first second after it is no fuller than any other.
      const after = grants.filter((g) => g.at >= stall.at + stall.ms && g.at < stall.at + stall.ms + 1000);
      expect(after.reduce((n, g) => n + g.bytes, 0)).toBeLessThanOrEqual(budget + blockBytes);
      // And no starving: timers up to 3 ms late cost a few per cent of a block's time on the link.
      const sent = grants.reduce((n, g) => n + g.bytes, 0);
      expect(sent / (budget * (durationMs - stall.ms) / 1000)).toBeGreaterThan(0.9);
    });
  });

  it('starts every bucket empty: the first block waits for 10 ms of the rate, not a burst', () => {
    const clock = fakeClock(1000);
    const pacing = createPacing({ deviceBytesPerSec: 0, globalBytesPerSec: 0, maxDepthBytes: DEFAULT_MAX_DEPTH_BYTES, clock });
    const limiter = pacing.limiterFor('dev-1', { id: 'plant', uplinkBytesPerSec: 32 * KiB });
    expect([limiter.tryTake(4 * KiB), limiter.timeUntil(4 * KiB)]).toEqual([false, 10]);
    clock.advance(10);
    expect([limiter.tryTake(4 * KiB), limiter.tryTake(1)]).toEqual([true, false]);
    expect(limiter.timeUntil(4 * KiB)).toBe(Math.ceil(((4 * KiB) * 1000) / 26_214)); // the block, repaid
  });

  it('keeps a fast global cap near its rate although timers wake only every millisecond or later', () => {
    const clock = fakeClock();
    const rate = 100e6;
    const pacing = createPacing({ deviceBytesPerSec: 0, globalBytesPerSec: rate, maxDepthBytes: DEFAULT_MAX_DEPTH_BYTES, clock });
    const grants = drive({ pacing, clock, devices: 8, site: undefined, blockBytes: 4 * KiB, durationMs: 2000, seed: 7, lateMs: 2 });
    const sent = grants.reduce((n, g) => n + g.bytes, 0);
    expect(sent / (rate * 2)).toBeGreaterThan(0.9);
    expect(busiest(grants, 1000)).toBeLessThanOrEqual(envelopeBytes(rate, 1000, 4 * KiB, DEFAULT_MAX_DEPTH_BYTES));
  });

  it('paces a device at the lower of its own rate and the default', () => {
    const clock = fakeClock();
    const own = new Map([['slow', 1000], ['fast', 1e9]]);
    const pacing = createPacing({ deviceBytesPerSec: 2000, globalBytesPerSec: 0, maxDepthBytes: DEFAULT_MAX_DEPTH_BYTES, clock, deviceRate: (id) => own.get(id) });
    const ids = [['slow', 1000], ['fast', 2000], ['plain', 2000]] as const;
    for (const [id] of ids) pacing.limiterFor(id, undefined);
    clock.advance(1000);
    for (const [id, rate] of ids) {
      const limiter = pacing.limiterFor(id, undefined);
      expect(limiter.tryTake(500)).toBe(true); // a full bucket passes a block larger than its depth…
      expect(limiter.timeUntil(500)).toBe(Math.ceil((500 * 1000) / rate)); // …and is full again once it is repaid
    }
  });

  it('shares a site (80 % of its uplink) and the global cap between devices, all or none', () => {
    const clock = fakeClock();
    const pacing = createPacing({ deviceBytesPerSec: 0, globalBytesPerSec: 6000, maxDepthBytes: DEFAULT_MAX_DEPTH_BYTES, clock });
    const [plant, depot] = [{ id: 'plant', uplinkBytesPerSec: 5000 }, { id: 'depot', uplinkBytesPerSec: 5000 }];
    pacing.limiterFor('a', plant);
    pacing.limiterFor('c', depot);
    clock.advance(1000);
    expect(pacing.limiterFor('a', plant).tryTake(40)).toBe(true); // the site's 10 ms at 4,000 B/s
    const b = pacing.limiterFor('b', plant);
    expect([b.tryTake(40), b.timeUntil(40)]).toEqual([false, 10]);
    expect(pacing.limiterFor('c', depot).tryTake(40)).toBe(false); // the global's 60 B: 40 gone
  });

  it('a rate of 0 adds no bucket', () => {
    const pacing = createPacing({ deviceBytesPerSec: 0, globalBytesPerSec: 0, maxDepthBytes: DEFAULT_MAX_DEPTH_BYTES, clock: fakeClock() });
    const limiter = pacing.limiterFor('dev-1', undefined);
    expect([limiter.tryTake(1e9), limiter.tryTake(1e9)]).toEqual([true, true]);
  });

  it('a changed uplink retunes the site bucket and keeps what it is owed', () => {
    const clock = fakeClock();
    const pacing = createPacing({ deviceBytesPerSec: 0, globalBytesPerSec: 0, maxDepthBytes: DEFAULT_MAX_DEPTH_BYTES, clock });
    pacing.limiterFor('dev-1', { id: 'plant', uplinkBytesPerSec: 10_000 });
    clock.advance(10);
    expect(pacing.limiterFor('dev-1', { id: 'plant', uplinkBytesPerSec: 10_000 }).tryTake(8000)).toBe(true); // 80 B held, 7,920 owed
    const faster = pacing.limiterFor('dev-2', { id: 'plant', uplinkBytesPerSec: 20_000 });
    // The debt, then the new depth (160 B), at 16,000 B/s: not a fresh bucket's first block.
    expect([faster.tryTake(8000), faster.timeUntil(8000)]).toEqual([false, Math.ceil(((7920 + 160) * 1000) / 16_000)]);
  });

  it('sweeps idle buckets, and a bucket made again starts empty', () => {
    const clock = fakeClock();
    const pacing = createPacing({ deviceBytesPerSec: 1000, globalBytesPerSec: 0, maxDepthBytes: DEFAULT_MAX_DEPTH_BYTES, clock, deviceRate: (id) => (id === 'own' ? 500 : undefined) });
    const site = { id: 'plant', uplinkBytesPerSec: 10_000 };
    for (const id of ['own', 'plain']) pacing.limiterFor(id, site);
    clock.advance(60_000);
    pacing.sweep();
    for (const id of ['own', 'plain']) expect(pacing.limiterFor(id, site).tryTake(1)).toBe(false);
  });
});
