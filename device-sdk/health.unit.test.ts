import { describe, expect, it } from 'vitest';
import { composeHealthReport, cpuPercent, cpuTimes, createOsSampler, type OsProbe } from './health.js';

const cpu = (user: number, idle: number) => ({ times: { user, nice: 0, sys: 0, idle, irq: 0 } });

function probe(readings: Array<ReturnType<OsProbe['cpus']>>): OsProbe {
  let i = 0;
  return { uptime: () => 1234.9, freemem: () => 5_000_000, cpus: () => readings[Math.min(i++, readings.length - 1)]! };
}

describe('health sampling', () => {
  it.each([
    // before [busy, total], after [busy, total], pct
    [[0, 0], [50, 100], 50],
    [[100, 1000], [100, 2000], 0],
    [[0, 0], [3, 3], 100],
    [[0, 0], [1, 3], 33.3],
    [[10, 10], [10, 10], undefined], // no time passed
  ])('cpuPercent %j → %j is %s', ([b0, t0], [b1, t1], pct) => {
    expect(cpuPercent({ busy: b0!, total: t0! }, { busy: b1!, total: t1! })).toBe(pct);
  });

  it('sums busy and total time over every core', () => {
    expect(cpuTimes([cpu(10, 90), cpu(30, 70)])).toEqual({ busy: 40, total: 200 });
  });

  it('samples uptime, free memory and CPU use since the previous sample', () => {
    const sample = createOsSampler(probe([[cpu(0, 0)], [cpu(25, 75)], [cpu(25, 175)]]));
    expect(sample()).toEqual({ uptimeS: 1234, memFreeBytes: 5_000_000, cpuPct: 25 });
    expect(sample()).toEqual({ uptimeS: 1234, memFreeBytes: 5_000_000, cpuPct: 0 });
  });
});

describe('composeHealthReport', () => {
  const base = { uptimeS: 10, memFreeBytes: 100, cpuPct: 5 };

  it('adds the interval and lets the app add and override fields', () => {
    expect(composeHealthReport(base, 60, { batteryPct: 80, memFreeBytes: 7 })).toEqual({ uptimeS: 10, memFreeBytes: 7, cpuPct: 5, intervalS: 60, batteryPct: 80 });
  });

  it('drops fields the app sets to undefined', () => {
    expect(composeHealthReport(base, 30, { cpuPct: undefined })).toEqual({ uptimeS: 10, memFreeBytes: 100, intervalS: 30 });
  });

  it('refuses a report the broker would reject, naming the fields', () => {
    expect(() => composeHealthReport(base, 60, { batteryPct: 150, rssiDbm: 5 })).toThrow(
      expect.objectContaining({ code: 'InvalidRequest', details: { fields: { batteryPct: expect.any(String), rssiDbm: expect.any(String) } } }),
    );
    expect(() => composeHealthReport(base, 60, { nonsense: 1 } as never)).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
  });
});
