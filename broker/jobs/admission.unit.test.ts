import { describe, expect, it } from 'vitest';
import { EXECUTION_STATUSES } from '../../device-sdk/protocol/jobs.js';
import { rateAdmission, type AdmissionInput } from './admission.js';
import type { ExecutionCounts, JobRecord } from './model.js';
import { execution, job, T0 } from './test-fixtures.js';

function fleet(n: number) {
  const waiting = Array.from({ length: n }, (_, i) => execution({ deviceId: `d${i}`, seq: i, admittedAt: null }));
  const counts = (): ExecutionCounts => ({ ...Object.fromEntries(EXECUTION_STATUSES.map((s) => [s, 0])), QUEUED: n, waiting: waiting.length } as ExecutionCounts);
  const input = (j: JobRecord, now: number, extra: Partial<ExecutionCounts> = {}): AdmissionInput => ({
    job: j, now, counts: { ...counts(), ...extra }, waiting: async (limit) => waiting.slice(0, limit),
  });
  const take = (ids: string[]) => waiting.splice(0, ids.length);
  return { input, take };
}

describe('rate admission (until the rollout scheduler lands)', () => {
  it('admits in queue order at maxPerMinute on the injected clock', async () => {
    let now = T0;
    const policy = rateAdmission({ defaultMaxPerMinute: 60, clock: () => now });
    const { input, take } = fleet(100);
    const j = job();
    const admitted: string[] = [];
    for (let s = 0; s <= 60; s++) {
      now = T0 + s * 1000;
      const ids = await policy.decide(input(j, now));
      take(ids);
      admitted.push(...ids);
    }
    // One a second, plus the two seconds' depth the bucket starts with.
    expect(admitted.length).toBeGreaterThanOrEqual(60);
    expect(admitted.length).toBeLessThanOrEqual(62);
    expect(admitted.slice(0, 3)).toEqual(['d0', 'd1', 'd2']);
  });

  it("takes the job's rollout.maxPerMinute over the default", async () => {
    const policy = rateAdmission({ defaultMaxPerMinute: 60, clock: () => T0 });
    const { input } = fleet(10_000);
    const j = job({ rollout: { maxPerMinute: 60_000 } });
    expect(await policy.decide(input(j, T0))).toHaveLength(2000);
    expect(policy.describe(j)).toEqual({ currentWave: null, maxPerMinute: 60_000, maxConcurrent: null });
  });

  it('keeps admitted-but-unfinished executions under maxConcurrent', async () => {
    const policy = rateAdmission({ defaultMaxPerMinute: 6000, clock: () => T0 });
    const { input } = fleet(50);
    const j = job({ rollout: { maxConcurrent: 5 } });
    expect(await policy.decide(input(j, T0, { IN_PROGRESS: 3 }))).toHaveLength(2);
    expect(await policy.decide(input(j, T0, { IN_PROGRESS: 5 }))).toHaveLength(0);
  });

  it('admits nothing before schedule.startAt or after schedule.endAt', async () => {
    const policy = rateAdmission({ defaultMaxPerMinute: 6000, clock: () => T0 });
    const { input } = fleet(5);
    const at = (ms: number) => new Date(ms).toISOString();
    expect(await policy.decide(input(job({ schedule: { startAt: at(T0 + 1) } }), T0))).toEqual([]);
    expect(await policy.decide(input(job({ schedule: { endAt: at(T0) } }), T0))).toEqual([]);
    expect(await policy.decide(input(job({ schedule: { startAt: at(T0), endAt: at(T0 + 1) } }), T0))).toHaveLength(5);
  });
});
