/**
 * Admission: when each queued execution becomes visible to its device (notify-next, get,
 * start-next). Executions are created waiting; an `AdmissionPolicy` decides, at each tick and
 * right after a job is created, which of a running job's waiting executions to admit. The job
 * service owns everything else (state machine, store, notifications), so the rollout scheduler
 * (waves, canaries, byte budgets, windows) replaces only this policy.
 *
 * Until it lands, `rateAdmission` admits in queue order at `rollout.maxPerMinute` (default
 * `BATON_JOBS_MAX_PER_MINUTE`), with at most `rollout.maxConcurrent` admitted and unfinished,
 * and nothing outside `schedule.startAt`…`schedule.endAt`.
 */
import { TokenBucket } from '../../firmware-updates/token-bucket.js';
import type { ExecutionCounts, ExecutionRecord, JobDefinition, JobRecord } from './model.js';
import { scheduleWindow } from './rollup.js';

export interface AdmissionInput {
  job: JobRecord;
  now: number;
  counts: ExecutionCounts;
  /** Waiting executions of the job, in queue order, at most `limit`. */
  waiting(limit: number): Promise<ExecutionRecord[]>;
}

export interface AdmissionPolicy {
  /** Device ids to admit now, among the job's waiting executions. */
  decide(input: AdmissionInput): Promise<string[]>;
  /** What `GET /jobs/{id}` shows of the pacing. */
  describe(job: JobRecord): { currentWave: number | null; maxPerMinute: number | null; maxConcurrent: number | null };
  /** The job finished: drop any state kept for it. */
  forget(jobId: string): void;
  /** The policy ticks this job even with nothing waiting (the rollout scheduler: soaks, schedule end, persistence). */
  needsTicks?(job: JobRecord): boolean;
}

/** A reason shown beside an execution (`GET /jobs/{id}/executions`): why its device has not updated. */
export interface ExecutionReason {
  reason: string;
  details: Record<string, unknown> | null;
}

/**
 * What the rollout scheduler (broker/rollouts) hears from the jobs feature beyond admission: every
 * execution change, device connects and deferrals; and what it answers: reasons and the dry run.
 */
export interface RolloutHooks {
  /** Every state an execution went through, in order, right after it is durable (before anything is announced). */
  executionChanged(steps: readonly ExecutionRecord[]): void;
  /** A device connected: runs admission for the rollouts it can join now, before its queue is sent. */
  deviceConnected(deviceId: string): Promise<void>;
  /** A device said which firmware it runs (its reconcile): an updated device back on the old version counts against the health gate. */
  firmwareRunning(deviceId: string, firmwareVersion: string): void;
  /** A device asked to be left alone until `until` (epoch ms); false when no rollout drives the job. */
  deferred(jobId: string, deviceId: string, until: number): boolean;
  /** Reasons for a page of a job's executions; undefined for jobs the scheduler does not drive. */
  reasons(job: JobRecord, executions: readonly ExecutionRecord[]): Map<string, ExecutionReason | null> | undefined;
  /** Refuses (`InvalidRequest`) settings the scheduler cannot run, before the job is created. */
  validate(job: JobDefinition): void;
  /** `POST /jobs?dryRun=true`: the forecast for a job that is not created. */
  forecast(job: JobDefinition, deviceIds: readonly string[]): RolloutForecast;
}

/** The dry run's answer (issue 7's shape, plus the bandwidth lower bound). */
export interface RolloutForecast {
  waves: { index: number; devices: number }[];
  bytesPerSite: Record<string, number>;
  estimatedCompletionS: number;
  lowerBoundS: number;
}

const positive = (v: unknown): number | null => (typeof v === 'number' && v > 0 ? v : null);

export function rateAdmission(options: { defaultMaxPerMinute: number; clock: () => number }): AdmissionPolicy {
  const buckets = new Map<string, TokenBucket>();
  const clock = { now: options.clock };
  const pacing = (job: JobRecord) => ({
    maxPerMinute: positive(job.rollout?.['maxPerMinute']) ?? options.defaultMaxPerMinute,
    maxConcurrent: positive(job.rollout?.['maxConcurrent']),
  });
  const bucketOf = (job: JobRecord, perMinute: number) => {
    let bucket = buckets.get(job.id);
    if (!bucket) {
      // Two seconds' worth of depth: at most maxPerMinute + that in any minute, however the ticks fall.
      const rate = perMinute / 60;
      bucket = new TokenBucket({ rate, depth: Math.max(1, Math.ceil(rate * 2)), clock });
      buckets.set(job.id, bucket);
    }
    return bucket;
  };

  return {
    async decide({ job, now, counts, waiting }) {
      const { startAt, endAt } = scheduleWindow(job);
      if ((startAt !== null && now < startAt) || (endAt !== null && now >= endAt) || counts.waiting === 0) return [];
      const { maxPerMinute, maxConcurrent } = pacing(job);
      const bucket = bucketOf(job, maxPerMinute);
      const unfinished = counts.QUEUED - counts.waiting + counts.IN_PROGRESS;
      const room = maxConcurrent === null ? Infinity : Math.max(0, maxConcurrent - unfinished);
      const n = Math.min(Math.floor(bucket.available()), room, counts.waiting);
      if (n <= 0) return [];
      const admitted = (await waiting(n)).map((e) => e.deviceId);
      bucket.tryTake(admitted.length);
      return admitted;
    },
    describe: (job) => ({ currentWave: null, ...pacing(job) }),
    forget: (jobId) => void buckets.delete(jobId),
  };
}
