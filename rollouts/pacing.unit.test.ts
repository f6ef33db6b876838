import { describe, expect, it } from 'vitest';
import { RolloutPacing } from './pacing.js';

function setup(egressBytesPerSec?: number) {
  let now = 0;
  const clock = { now: () => now };
  // Site a: 10,000 B/s × 0.8 = 8,000 B/s. Depth 1,000 B everywhere.
  const pacing = new RolloutPacing({ sites: [{ id: 'a', uplinkBytesPerSec: 10_000 }, { id: 'b', uplinkBytesPerSec: 10_000 }], egressBytesPerSec, depthBytes: 1000, clock });
  return { pacing, advance: (ms: number) => (now += ms) };
}

describe('RolloutPacing', () => {
  it('paces a device at its reported link (8 kbit/s = 1,000 B/s)', () => {
    const { pacing, advance } = setup();
    const limiter = pacing.limiterFor({ id: 'd1', site: 'a', linkKbps: 8 });
    expect(limiter.tryTake(1000)).toBe(true);
    advance(500);
    expect([limiter.tryTake(1000), limiter.timeUntil(1000)]).toEqual([false, 500]);
  });

  it('shares the site bucket between its devices, all or none', () => {
    const { pacing } = setup();
    const [d1, d2] = ['d1', 'd2'].map((id) => pacing.limiterFor({ id, site: 'a' }));
    expect(d1!.tryTake(1000)).toBe(true);
    expect(d2!.tryTake(1)).toBe(false);
    expect(d2!.timeUntil(1000)).toBe(125); // 1,000 B at 8,000 B/s
  });

  it('shares the service bucket across sites', () => {
    const { pacing } = setup(2000);
    expect(pacing.limiterFor({ id: 'd1', site: 'a' }).tryTake(1000)).toBe(true);
    expect(pacing.limiterFor({ id: 'd2', site: 'b' }).tryTake(1)).toBe(false);
  });

  it('a device at an unknown site or without one is paced by the service alone', () => {
    const { pacing } = setup();
    const limiter = pacing.limiterFor({ id: 'd1', site: null });
    expect([limiter.tryTake(1000), limiter.tryTake(1000), pacing.site('nowhere')]).toEqual([true, true, undefined]);
  });

  it('keeps one limiter per device until forgotten', () => {
    const { pacing } = setup();
    const limiter = pacing.limiterFor({ id: 'd1', site: 'a' });
    expect(pacing.limiterFor({ id: 'd1', site: 'a' })).toBe(limiter);
    pacing.forget('d1');
    expect(pacing.limiterFor({ id: 'd1', site: 'a' })).not.toBe(limiter);
  });
});
