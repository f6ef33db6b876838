import { describe, expect, it } from 'vitest';
import type { ExecutionStatus } from '../device-sdk/protocol/jobs.js';
import type { RolloutTarget, SchedulerConfig } from './config.js';
import { RolloutScheduler, type Decision } from './scheduler.js';

const T0 = Date.parse('2025-01-15T00:00:00Z');
const SIZE = 1_000_000;
const s = (seconds: number) => T0 + seconds * 1000;
const sites = [{ id: 'a', uplinkBytesPerSec: 500_000 }, { id: 'b', uplinkBytesPerSec: 250_000 }];

function fleet(perSite: Record<string, number>): RolloutTarget[] {
  return Object.entries(perSite).flatMap(([site, n]) => Array.from({ length: n }, (_, k) => ({ id: `${site}-${k}`, site, linkKbps: 800 })));
}
const create = (config: Partial<SchedulerConfig>) => RolloutScheduler.create({ jobId: 'job', sites, firmwareBytes: SIZE, targets: fleet({ a: 4, b: 2 }), ...config });

function complete(r: RolloutScheduler, id: string, at: number, outcome: ExecutionStatus = 'SUCCEEDED') {
  r.recordStatus(id, 'IN_PROGRESS', at);
  r.recordProgress(id, SIZE, at);
  return r.recordStatus(id, outcome, at);
}

describe('waves and the success gate', () => {
  it('releases the next wave only after the canary settled, passed and soaked', () => {
    const r = create({ rollout: { canary: { count: 2 }, soakS: 60 } });
    const canary = r.tick(s(0)).admit;
    expect(canary.map((id) => id[0]).sort()).toEqual(['a', 'b']); // one per site
    complete(r, canary[0]!, s(5));
    const passed = complete(r, canary[1]!, s(10));
    expect(passed.events).toEqual([{ type: 'wave-passed', wave: 0, successPct: 100, soakUntil: s(70), at: s(10) }]);
    expect(r.tick(s(69)).admit).toEqual([]);
    const next = r.tick(s(70));
    expect([next.events.map((e) => e.type), next.admit.length]).toEqual([['wave-released'], 4]);
  });

  it('aborts when a wave misses its success threshold, in the call that settles it', () => {
    const r = create({ rollout: { canary: { count: 2 }, successThresholdPct: 100 } });
    const canary = r.tick(s(0)).admit;
    complete(r, canary[0]!, s(5));
    const failed = complete(r, canary[1]!, s(6), 'FAILED');
    expect(failed.events).toEqual([{ type: 'stopped', phase: 'aborted', cause: { kind: 'wave-failed', wave: 0, successPct: 50 }, at: s(6) }]);
    expect(failed.cancel).toHaveLength(4);
    expect(r.tick(s(7)).admit).toEqual([]);
  });

  it('does not wait for a canary device that is offline; it is admitted when it returns', () => {
    const r = create({ rollout: { canary: { count: 2 } } });
    const canary = r.tick(s(0)).admit;
    r.deviceDisconnected(canary[1]!, s(1));
    const passed = complete(r, canary[0]!, s(5));
    expect(passed.events.map((e) => e.type)).toEqual(['wave-passed', 'wave-released']);
    r.deviceConnected(canary[1]!, s(6));
    complete(r, canary[1]!, s(7));
    expect(r.view.outcomes.SUCCEEDED).toBe(2);
  });
});

describe('abort criteria', () => {
  const abort = (inProgress: 'finish' | 'cancel') => ({ criteria: [{ failureType: 'FAILED' as const, thresholdPercentage: 50, minExecuted: 2 }], inProgress });

  it.each([
    ['finish: queued ones are canceled, in-progress ones finish', 'finish', 3],
    ['cancel: in-progress ones are canceled too', 'cancel', 4],
  ] as const)('stops in the call that records the crossing; %s', (_name, inProgress, canceled) => {
    const r = create({ abort: abort(inProgress) });
    const admitted = r.tick(s(0)).admit; // four at a, two at b
    r.recordStatus(admitted[2]!, 'IN_PROGRESS', s(1));
    complete(r, admitted[0]!, s(2));
    const crossing = complete(r, admitted[1]!, s(3), 'FAILED');
    expect(crossing.events).toEqual([{ type: 'stopped', phase: 'aborted', cause: { kind: 'abort-criterion', criterion: abort(inProgress).criteria[0] }, at: s(3) }]);
    expect([r.phase, crossing.cancel.length, crossing.cancel.includes(admitted[2]!)]).toEqual(['aborted', canceled, inProgress === 'cancel']);
    // Nothing is admitted after the crossing, however often the caller ticks or whatever else happens.
    complete(r, admitted[3]!, s(4));
    r.deviceConnected('a-0', s(4));
    expect([r.tick(s(4)).admit, r.tick(s(600)).admit]).toEqual([[], []]);
  });

  it('counts a device by its latest outcome, so a retried failure that succeeds is a success', () => {
    const r = create({ abort: abort('finish') });
    const [id] = r.tick(s(0)).admit;
    complete(r, id!, s(1), 'FAILED');
    r.recordStatus(id!, 'QUEUED', s(1)); // the jobs service retries at once
    expect(r.view.executions[id!]).toMatchObject({ status: 'QUEUED', bytes: 0 }); // the retry downloads again
    complete(r, id!, s(2));
    expect(r.view.outcomes).toEqual({ SUCCEEDED: 1, FAILED: 0, REJECTED: 0, TIMED_OUT: 0 });
  });
});

describe('health gating over the soak', () => {
  it.each([
    ['updated devices reboot, the control group does not: the wave fails', ['updated'], 'aborted'],
    ['both groups reboot alike (a bad night, not the firmware): it passes', ['updated', 'control'], 'running'],
  ])('%s', (_name, rebooting, phase) => {
    const r = create({ rollout: { canary: { count: 2 }, soakS: 600, healthGate: true } });
    const canary = r.tick(s(0)).admit;
    for (const id of canary) complete(r, id, s(10));
    const control = [...r.config.targets.keys()].filter((id) => !canary.includes(id));
    const groups: Record<string, string[]> = { updated: canary, control };
    for (const g of rebooting) for (const id of groups[g]!) r.recordHealth({ deviceId: id, kind: 'reboot', at: s(100) });
    const end = r.tick(s(610));
    expect(end.phase).toBe(phase);
    if (phase === 'aborted') expect(end.events[0]).toMatchObject({ type: 'stopped', cause: { kind: 'health', wave: 0, regressions: [{ metric: 'rebootsPerDevice', updated: 1, baseline: 0 }] } });
  });
});

describe('maintenance windows', () => {
  const windowed = [{ id: 'a', uplinkBytesPerSec: 500_000, windows: [{ cron: '0 2 * * *', durationMin: 60 }] }];
  const at = (hhmmss: string) => Date.parse(`2025-01-15T${hhmmss}Z`);
  it.each([
    ['closed: nothing', '01:30:00', 0],
    ['open: fills the budget', '02:00:00', 4],
    ['open, but 5 s left for a 10 s download: nothing', '02:59:55', 0],
    ['open, 10 s left: starts', '02:59:50', 4],
  ])('%s', (_name, time, admitted) => {
    const r = RolloutScheduler.create({ jobId: 'job', sites: windowed, firmwareBytes: SIZE, targets: fleet({ a: 6 }) });
    expect(r.tick(at(time)).admit).toHaveLength(admitted);
  });
});

describe('restart', () => {
  /** Drives a rollout second by second: devices start a second after notify and download at 100 kB/s. */
  function drive(r: RolloutScheduler, from: number, to: number, state: Map<string, number>): Decision[] {
    const decisions: Decision[] = [];
    for (let t = from; t < to; t++) {
      for (const [id, bytes] of state) {
        if (bytes === 0) r.recordStatus(id, 'IN_PROGRESS', s(t));
        const next = Math.min(SIZE, bytes + 100_000);
        r.recordProgress(id, next, s(t));
        state.set(id, next);
        if (next < SIZE) continue;
        state.delete(id);
        r.recordStatus(id, 'SUCCEEDED', s(t));
      }
      const d = r.tick(s(t));
      for (const id of d.admit) state.set(id, 0);
      decisions.push(d);
    }
    return decisions;
  }

  it('a scheduler restored from its JSON decides exactly as the one that kept running', () => {
    const config = { jobId: 'job', sites, firmwareBytes: SIZE, targets: fleet({ a: 12, b: 6 }), rollout: { canary: { count: 2 }, waves: { percents: [50] } } };
    const original = RolloutScheduler.create(config);
    const progress = new Map<string, number>();
    drive(original, 0, 15, progress);
    const stored = JSON.parse(JSON.stringify(original.toJSON()));
    const restored = RolloutScheduler.restore(config, stored);
    const after = drive(restored, 15, 80, new Map(progress));
    const expected = drive(original, 15, 80, progress);
    expect(after).toEqual(expected);
    expect(restored.phase).toBe('completed');
  });

  it.each([
    ['another version', { version: 2 }],
    ['a device the job does not target', null],
  ])('refuses a stored state from %s', (_name, patch) => {
    const config = { jobId: 'job', sites, firmwareBytes: SIZE, targets: fleet({ a: 2 }) };
    const state = RolloutScheduler.create(config).toJSON();
    const bad = patch ? { ...state, ...patch } : { ...state, waves: [['stranger']] };
    expect(() => RolloutScheduler.restore(config, bad)).toThrow(expect.objectContaining({ code: patch ? 'InvalidRequest' : 'Conflict' }));
  });
});
