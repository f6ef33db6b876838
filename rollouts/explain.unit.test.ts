import { describe, expect, it } from 'vitest';
import type { RolloutTarget, SchedulerConfig } from './config.js';
import { explain, explainAll, type NotUpdatedReason } from './explain.js';
import { RolloutScheduler } from './scheduler.js';

const T0 = Date.parse('2025-01-15T00:00:00Z');
const s = (seconds: number) => T0 + seconds * 1000;
const SIZE = 1_000_000;

/** Site a: budget 400 kB/s, devices at 100 kB/s, so four download at once. */
function setup(config: Partial<SchedulerConfig> = {}, n = 6) {
  const targets: RolloutTarget[] = Array.from({ length: n }, (_, k) => ({ id: `d${k}`, site: 'a', linkKbps: 800 }));
  const sites = config.sites ?? [{ id: 'a', uplinkBytesPerSec: 500_000 }];
  return RolloutScheduler.create({ jobId: 'job', firmwareBytes: SIZE, targets, ...config, sites });
}

/** Ticks once at 0 s; returns the scheduler, the admitted ids and one not admitted. */
function started(config: Partial<SchedulerConfig> = {}) {
  const r = setup(config);
  const admitted = r.tick(s(0)).admit;
  const waiting = [...r.config.targets.keys()].find((id) => !admitted.includes(id))!;
  return { r, admitted, waiting };
}

type Case = [name: string, act: () => { r: RolloutScheduler; id: string; now: number; incompatible?: string[] }, expected: NotUpdatedReason | null];

describe('explain', () => {
  it.each<Case>([
    ['a device the job does not target', () => ({ ...started(), id: 'elsewhere', now: s(1) }), { reason: 'not-targeted' }],
    ['a device of another class', () => ({ ...started(), id: 'other', now: s(1), incompatible: ['other'] }), { reason: 'incompatible' }],
    ['admitted, not started by its device', () => { const x = started(); return { r: x.r, id: x.admitted[0]!, now: s(1) }; }, { reason: 'notified', at: s(0) }],
    ['released, but the site budget is in use', () => { const x = started(); return { r: x.r, id: x.waiting, now: s(1) }; }, { reason: 'waiting-for-bandwidth' }],
    ['in a later wave', () => {
      const r = setup({ rollout: { canary: { count: 1 } } });
      r.tick(s(0));
      return { r, id: r.view.waves[1]![0]!, now: s(1) };
    }, { reason: 'waiting-for-wave', wave: 1, currentWave: 0 }],
    ['offline', () => { const x = started(); x.r.deviceDisconnected(x.waiting, s(3)); return { r: x.r, id: x.waiting, now: s(4) }; }, { reason: 'offline-since', since: s(3) }],
    ['admitted, then offline before starting', () => { const x = started(); x.r.deviceDisconnected(x.admitted[0]!, s(3)); return { r: x.r, id: x.admitted[0]!, now: s(4) }; }, { reason: 'offline-since', since: s(3) }],
    ['deferred by the device', () => { const x = started(); x.r.deviceDeferred(x.waiting, s(900)); return { r: x.r, id: x.waiting, now: s(4) }; }, { reason: 'deferred-by-device', until: s(900) }],
    ['before the job starts', () => {
      const r = setup({ schedule: { startAt: new Date(s(3600)).toISOString() } });
      r.tick(s(0));
      return { r, id: 'd0', now: s(1) };
    }, { reason: 'outside-window', opensAt: s(3600) }],
    ['outside its site window', () => {
      const r = setup({ sites: [{ id: 'a', uplinkBytesPerSec: 500_000, windows: [{ cron: '0 2 * * *', durationMin: 60 }] }] });
      r.tick(s(0));
      return { r, id: 'd0', now: s(1) };
    }, { reason: 'outside-window', opensAt: Date.parse('2025-01-15T02:00:00Z') }],
    ['the window is open but too short for the download', () => {
      const r = setup({ sites: [{ id: 'a', uplinkBytesPerSec: 500_000, windows: [{ cron: '0 2 * * *', durationMin: 60 }] }] });
      const now = Date.parse('2025-01-15T02:59:55Z');
      r.tick(now);
      return { r, id: 'd0', now };
    }, { reason: 'outside-window', opensAt: Date.parse('2025-01-16T02:00:00Z') }],
    ['the job aborted', () => {
      const x = started({ abort: { criteria: [{ failureType: 'ALL', thresholdPercentage: 50, minExecuted: 1 }] } });
      x.r.recordStatus(x.admitted[0]!, 'FAILED', s(2));
      return { r: x.r, id: x.waiting, now: s(3) };
    }, { reason: 'aborted', at: s(2) }],
    ['downloading unhindered: nothing to explain', () => { const x = started(); x.r.recordStatus(x.admitted[0]!, 'IN_PROGRESS', s(1)); return { r: x.r, id: x.admitted[0]!, now: s(2) }; }, null],
    ['downloading but offline', () => {
      const x = started();
      x.r.recordStatus(x.admitted[0]!, 'IN_PROGRESS', s(1));
      x.r.deviceDisconnected(x.admitted[0]!, s(2));
      return { r: x.r, id: x.admitted[0]!, now: s(3) };
    }, { reason: 'offline-since', since: s(2) }],
    ['finished: its status says it', () => { const x = started(); x.r.recordStatus(x.admitted[0]!, 'SUCCEEDED', s(1)); return { r: x.r, id: x.admitted[0]!, now: s(2) }; }, null],
  ])('%s', (_name, act, expected) => {
    const { r, id, now, incompatible } = act();
    expect(explain(r, id, now, { incompatible: new Set(incompatible) })).toEqual(expected);
  });

  it('explains a page of devices at once', () => {
    const { r, admitted, waiting } = started();
    const reasons = explainAll(r, [admitted[0]!, waiting], s(1));
    expect([...reasons.values()].map((x) => x?.reason)).toEqual(['notified', 'waiting-for-bandwidth']);
  });
});
