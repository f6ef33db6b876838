import { describe, expect, it } from 'vitest';
import { backoffCeiling, nextDelay } from './backoff.js';

const opts = { minMs: 1000, maxMs: 60_000 };

describe('nextDelay (full jitter)', () => {
  it.each([
    // attempt, random, ceiling, delay
    [0, 0, 1000, 0],
    [0, 0.5, 1000, 500],
    [0, 0.999999, 1000, 999],
    [1, 0.5, 2000, 1000],
    [2, 0.25, 4000, 1000],
    [5, 0.5, 32_000, 16_000],
    [6, 0.5, 60_000, 30_000], // 64 000 capped
    [6, 0.999999, 60_000, 59_999],
    [100, 0.5, 60_000, 30_000],
    [5000, 0.5, 60_000, 30_000], // 2 ** 5000 is Infinity: still the cap
  ])('attempt %i with random %f: window [0, %i) gives %i ms', (attempt, random, ceiling, delay) => {
    expect(backoffCeiling(attempt, opts)).toBe(ceiling);
    expect(nextDelay(attempt, opts, () => random)).toBe(delay);
  });

  it('never reaches the ceiling and never goes below 0', () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      for (const r of [0, 0.1, 0.9, 1 - Number.EPSILON]) {
        const d = nextDelay(attempt, opts, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(backoffCeiling(attempt, opts));
        expect(Number.isInteger(d)).toBe(true);
      }
    }
  });
});
