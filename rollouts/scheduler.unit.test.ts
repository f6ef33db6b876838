import { describe, expect, it } from 'vitest';
import type { ExecutionStatus } from '../device-sdk/protocol/jobs.js';
import type { RolloutTarget, SchedulerConfig } from './config.js';
import { RolloutScheduler } from './scheduler.js';

const T0 = Date.parse('2025-01-15T00:00:00Z');
const SIZE = 1_000_000;
const s = (seconds: number) => T0 + seconds * 1000;

/** `n` devices per site, each reporting 800 kbit/s = 100 kB/s. */
function fleet(perSite: Record<string, number>, extra: Partial<RolloutTarget> = {}): RolloutTarget[] {
  return Object.entries(perSite).flatMap(([site, n]) => Array.from({ length: n }, (_, k) => ({ id: `${site}-${k}`, site, linkKbps: 800, ...extra })));
}

function scheduler(config: Partial<SchedulerConfig> & { targets: RolloutTarget[] }): RolloutScheduler {
  // Site budgets at the default 80 % share: a → 400 kB/s (four devices), b → 200 kB/s (two).
  const sites = [{ id: 'a', uplinkBytesPerSec: 500_000 }, { id: 'b', uplinkBytesPerSec: 250_000 }];
  return RolloutScheduler.create({ jobId: 'job', sites, firmwareBytes: SIZE, ...config });
}

/** A device's whole run: start, every byte, then its outcome. */
function complete(r: RolloutScheduler, id: string, at: number, outcome: ExecutionStatus = 'SUCCEEDED') {
  r.recordStatus(id, 'IN_PROGRESS', at);
  r.recordProgress(id, SIZE, at);
  return r.recordStatus(id, outcome, at);
}

const bySite = (ids: string[]) => ids.reduce<Record<string, number>>((acc, id) => ({ ...acc, [id.split('-')[0]!]: (acc[id.split('-')[0]!] ?? 0) + 1 }), {});

describe('admission fills each site budget', () => {
  it('admits enough downloads to fill each site, not more', () => {
    const r = scheduler({ targets: fleet({ a: 10, b: 10 }) });
    const first = r.tick(s(0));
    expect(bySite(first.admit)).toEqual({ a: 4, b: 2 });
    expect(r.tick(s(1)).admit).toEqual([]);
  });

  it('admits the next device when a download ends', () => {
    const r = scheduler({ targets: fleet({ a: 10 }) });
    const [first] = r.tick(s(0)).admit;
    complete(r, first!, s(10));
    expect(r.tick(s(10)).admit).toHaveLength(1);
  });

  it('admits more when devices turn out slower than they report (site not saturated)', () => {
    const r = scheduler({ targets: fleet({ a: 10 }) });
    const admitted = r.tick(s(0)).admit;
    for (const id of admitted) r.recordStatus(id, 'IN_PROGRESS', s(0));
    for (let t = 1; t <= 6; t++) for (const id of admitted) r.recordProgress(id, 50_000 * t, s(t)); // 50 kB/s, not 100
    expect(r.tick(s(6)).admit.length).toBeGreaterThanOrEqual(2);
  });

  it('admits nothing more while a saturated site shares its budget (slow samples are shares)', () => {
    const r = scheduler({ targets: fleet({ a: 10 }, { linkKbps: undefined }), defaultDeviceBytesPerSec: 50_000 });
    const admitted = r.tick(s(0)).admit; // eight at the 50 kB/s default
    for (const id of admitted) r.recordStatus(id, 'IN_PROGRESS', s(0));
    for (let t = 1; t <= 6; t++) for (const id of admitted) r.recordProgress(id, 50_000 * t, s(t)); // 8 × 50 kB/s = the budget
    expect([admitted.length, r.tick(s(6)).admit.length]).toEqual([8, 0]);
  });

  it.each([
    ['maxConcurrent', { maxConcurrent: 3 }, 3],
    ['maxPerMinute', { maxPerMinute: 2 }, 2],
  ])('respects %s', (_name, rollout, expected) => {
    const r = scheduler({ targets: fleet({ a: 10, b: 10 }), rollout });
    expect(r.tick(s(0)).admit).toHaveLength(expected);
    expect(r.tick(s(1)).admit).toHaveLength(0);
  });

  it('lets maxPerMinute admit again a minute later', () => {
    const r = scheduler({ targets: fleet({ a: 10 }), rollout: { maxPerMinute: 2 } });
    r.tick(s(0));
    expect(r.tick(s(59)).admit).toHaveLength(0);
    expect(r.tick(s(60)).admit).toHaveLength(2);
  });

  it('caps the whole service at the egress budget', () => {
    const r = scheduler({ targets: fleet({ a: 10, b: 10 }), egressBytesPerSec: 300_000 });
    expect(r.tick(s(0)).admit).toHaveLength(3);
  });

  it('skips offline and deferred devices, and takes them when they are back', () => {
    const targets = fleet({ a: 5 });
    targets[0]!.offlineSince = s(-100);
    const r = scheduler({ targets });
    r.deviceDeferred('a-1', s(30));
    expect(r.tick(s(0)).admit.sort()).toEqual(['a-2', 'a-3', 'a-4']);
    r.deviceConnected('a-0', s(5));
    expect(r.tick(s(5)).admit).toEqual(['a-0']);
    complete(r, 'a-0', s(29)); // room at the site again, but a-1 deferred until 30 s
    expect(r.tick(s(29)).admit).toEqual([]);
    expect(r.tick(s(30)).admit).toEqual(['a-1']);
  });
});

describe('schedule', () => {
  it('admits nothing before startAt, then starts', () => {
    const r = scheduler({ targets: fleet({ a: 2 }), schedule: { startAt: new Date(s(60)).toISOString() } });
    const before = r.tick(s(0));
    expect([before.admit, before.phase, before.wakeAt]).toEqual([[], 'scheduled', s(60)]);
    const after = r.tick(s(60));
    expect([after.admit.length, after.phase, after.events.map((e) => e.type)]).toEqual([2, 'running', ['started', 'wave-released']]);
  });

  it.each([
    ['stop: admitted ones run on, nothing is canceled', 'stop', 0],
    ['cancel: every execution not started is canceled, notified or waiting', 'cancel', 5],
  ] as const)('at endAt, %s', (_name, endBehavior, canceled) => {
    const targets = fleet({ a: 6 });
    const r = scheduler({ targets, schedule: { endAt: new Date(s(100)).toISOString(), endBehavior }, rollout: { maxConcurrent: 2 } });
    const [started] = r.tick(s(0)).admit;
    r.recordStatus(started!, 'IN_PROGRESS', s(1));
    const end = r.tick(s(100));
    expect([end.phase, end.admit, end.cancel.length, end.cancel.includes(started!)]).toEqual(['ended', [], canceled, false]);
  });
});
