import { describe, expect, it } from 'vitest';
import { expectedRate, kbpsToBytesPerSec, measuredRate, nextCapacity, priorRate, secondsLeft, ThroughputWindow } from './rates.js';
import type { ExecState } from './state.js';

const exec = (o: Partial<ExecState> = {}): ExecState => ({ status: 'IN_PROGRESS', admittedAt: 0, bytes: 0, activeAt: 0, ...o });

describe('rates of one download', () => {
  it.each([
    ['reported link', 8000, 5, 1_000_000],
    ['no report: the default', undefined, 5, 5],
    ['a zero report is no report', 0, 5, 5],
  ])('priorRate: %s', (_name, kbps, fallback, expected) => {
    expect(priorRate(kbps, fallback)).toBe(expected);
  });

  it('reads linkKbps as kilobits per second', () => {
    expect(kbpsToBytesPerSec(8)).toBe(1000);
  });

  it.each([
    ['the first bytes only set the origin', exec(), 1000, 1000, undefined],
    ['no progress, no change', exec({ bytes: 1000, activeAt: 0, rate: 50 }), 1000, 1000, 50],
    // seeded at 1000 B/s; 1 s at 2000 B/s with τ = 1 s moves it by 1 − e⁻¹ of the gap
    ['moves towards the sample, from the seed', exec({ bytes: 1000, activeAt: 0 }), 3000, 1000, 1000 + (1 - Math.exp(-1)) * 1000],
    ['moves from the last average', exec({ bytes: 1000, activeAt: 0, rate: 3000 }), 3000, 1000, 3000 - (1 - Math.exp(-1)) * 1000],
  ])('measuredRate: %s', (_name, e, bytes, now, expected) => {
    const rate = measuredRate(e, bytes, now, 1, 1000);
    if (expected === undefined) expect(rate).toBeUndefined();
    else expect(rate).toBeCloseTo(expected, 6);
  });

  it.each([
    ['a fast sample raises it', 100, 150, true, 150],
    ['a slow sample on a saturated site says nothing', 100, 50, true, 100],
    ['a slow sample on an idle site lowers it', 100, 50, false, 50],
    ['no sample, no change', 100, undefined, false, 100],
  ])('nextCapacity: %s', (_name, capacity, measured, saturated, expected) => {
    expect(nextCapacity(capacity, measured, saturated)).toBe(expected);
  });

  it('counts capacity, capped at the budget, and time left at the measured pace', () => {
    expect(expectedRate(exec({ capacity: 500 }), 100, 300)).toBe(300);
    expect(expectedRate(exec(), 100, 300)).toBe(100);
    expect(secondsLeft(exec({ bytes: 600, rate: 100 }), 1000, 400)).toBe(4);
    expect(secondsLeft(exec({ bytes: 600 }), 1000, 400)).toBe(1);
  });
});

describe('ThroughputWindow', () => {
  it('knows nothing until a whole window has passed', () => {
    const w = new ThroughputWindow(3);
    w.add(3000, 10_000);
    expect(w.rate(12_999)).toBeUndefined();
    expect(w.rate(13_000)).toBe(1000);
  });

  it.each([
    ['steady', [[0, 1000], [1000, 1000], [2000, 1000], [3000, 1000]], 3500, 1000],
    ['the partial second is left out', [[0, 1000], [1000, 1000], [2000, 1000], [3100, 9000]], 3500, 1000],
    ['a gap longer than the window is zero', [[0, 1000]], 10_000, 0],
    ['old bins are cleared as time moves', [[0, 9000], [3000, 3000], [4000, 3000], [5000, 3000]], 6000, 3000],
  ])('%s', (_name, adds, now, expected) => {
    const w = new ThroughputWindow(3);
    for (const [at, bytes] of adds) w.add(bytes!, at!);
    expect(w.rate(now)).toBe(expected);
  });
});
