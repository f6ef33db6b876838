import { describe, expect, it } from 'vitest';
import { ConnectLimiter } from './connect-limiter.js';

describe('ConnectLimiter', () => {
  it('admits a burst of one second’s worth, then the rate', () => {
    let now = 0;
    const limiter = new ConnectLimiter({ connectsPerSec: 10, pendingPerAddress: 0 }, () => now);
    const admitted = () => limiter.reserve() === 0;
    const burst = Array.from({ length: 15 }, admitted);
    expect(burst.filter(Boolean)).toHaveLength(10);
    now += 250; // 2.5 tokens
    expect([admitted(), admitted(), admitted()]).toEqual([true, true, false]);
    now += 10_000; // refills to the bucket's depth, no further
    expect(Array.from({ length: 12 }, admitted).filter(Boolean)).toHaveLength(10);
  });

  it('past the rate, gives each CONNECT its own later slot up to the wait, and refuses beyond', () => {
    const now = 0;
    const limiter = new ConnectLimiter({ connectsPerSec: 10, pendingPerAddress: 0, maxWaitMs: 500 }, () => now);
    for (let i = 0; i < 10; i++) expect(limiter.reserve()).toBe(0);
    const waits = Array.from({ length: 8 }, () => limiter.reserve());
    expect(waits).toEqual([100, 200, 300, 400, 500, undefined, undefined, undefined]);
  });

  it('a refused CONNECT takes no slot', () => {
    let now = 0;
    const limiter = new ConnectLimiter({ connectsPerSec: 2, pendingPerAddress: 0, maxWaitMs: 0 }, () => now);
    expect([limiter.reserve(), limiter.reserve(), limiter.reserve(), limiter.reserve()]).toEqual([0, 0, undefined, undefined]);
    now += 500;
    expect(limiter.reserve()).toBe(0);
  });

  it('over any window of W seconds admits at most rate × W + one second’s worth', () => {
    let now = 0;
    const limiter = new ConnectLimiter({ connectsPerSec: 50, pendingPerAddress: 0 }, () => now);
    let admitted = 0;
    for (let step = 0; step < 3000; step++) {
      now += 1; // 3 s, asked 1,000 times a second
      if (limiter.reserve() === 0) admitted += 1;
    }
    expect(admitted).toBeLessThanOrEqual(50 * 3 + 50);
    expect(admitted).toBeGreaterThanOrEqual(50 * 3);
  });

  it('0 is unlimited', () => {
    const limiter = new ConnectLimiter({ connectsPerSec: 0, pendingPerAddress: 0 }, () => 0);
    expect(Array.from({ length: 10_000 }, () => limiter.reserve()).every((w) => w === 0)).toBe(true);
    const sockets = Array.from({ length: 1000 }, () => ({}));
    expect(sockets.every((s) => limiter.accept(s, '10.0.0.1'))).toBe(true);
  });

  it('caps unauthenticated sockets per address; settling (authenticated or closed) frees a slot once', () => {
    const limiter = new ConnectLimiter({ connectsPerSec: 0, pendingPerAddress: 2 });
    const [a, b, c, d] = [{}, {}, {}, {}];
    expect(limiter.accept(a, '10.0.0.1')).toBe(true);
    expect(limiter.accept(b, '10.0.0.1')).toBe(true);
    expect(limiter.accept(c, '10.0.0.1')).toBe(false);
    expect(limiter.accept(c, '10.0.0.2')).toBe(true); // another address has its own count
    limiter.settle(a);
    limiter.settle(a); // authenticated, then closed: counted once
    expect(limiter.pendingFrom('10.0.0.1')).toBe(1);
    expect(limiter.accept(d, '10.0.0.1')).toBe(true);
    expect(limiter.accept({}, '10.0.0.1')).toBe(false);
    for (const s of [b, c, d]) limiter.settle(s);
    expect(limiter.pendingFrom('10.0.0.1')).toBe(0);
    expect(limiter.pendingFrom('10.0.0.2')).toBe(0);
  });
});
