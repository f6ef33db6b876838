/**
 * The rollouts as the jobs feature's `AdmissionPolicy` (broker/jobs/admission.ts): for a job the
 * scheduler drives (config.ts, `drivenByScheduler`), `decide()` is `tick(now).admit`; any other
 * job goes to the plain rate policy it wraps. Also what feeds admission besides presence and
 * delivery: every execution change (an abort crossing is decided inside the change that crosses
 * it, so no later tick admits anyone) and deferrals; and the checks and forecast before a job exists.
 */
import type { Logger } from 'pino';
import { isTerminal } from '../../device-sdk/protocol/jobs.js';
import { resolveConfig } from '../../rollouts/config.js';
import { forecast } from '../../rollouts/forecast.js';
import type { BudgetLedger } from '../../rollouts/ledger.js';
import type { AdmissionInput, AdmissionPolicy, RolloutForecast } from '../jobs/admission.js';
import type { ExecutionRecord, JobDefinition, JobRecord } from '../jobs/model.js';
import type { RolloutRepo } from '../store/sqlite/rollouts.js';
import type { RolloutEvents } from './events.js';
import type { LiveRollout, LiveRollouts } from './live.js';
import type { RolloutPersistence } from './persistence.js';

export interface RolloutAdmissionDeps {
  live: LiveRollouts;
  events: RolloutEvents;
  persistence: RolloutPersistence;
  repo: RolloutRepo;
  clock: () => number;
  log: Logger;
  /** The policy of the jobs the scheduler does not drive. */
  fallback: AdmissionPolicy;
  /** The service's budgets: a dry run plans with what the running rollouts leave of each site. */
  ledger: BudgetLedger;
}

export class RolloutAdmission implements AdmissionPolicy {
  constructor(private readonly d: RolloutAdmissionDeps) {}

  async decide(input: AdmissionInput): Promise<string[]> {
    if (!this.d.live.drives(input.job)) return this.d.fallback.decide(input);
    let live: LiveRollout;
    try {
      live = this.d.live.load(input.job);
    } catch (err) {
      // One job's rollout that cannot be planned must not stop the others' ticks.
      this.d.log.error({ err, jobId: input.job.id }, 'rollout not loaded; nothing admitted');
      return [];
    }
    live.job = input.job;
    const decision = live.scheduler.tick(input.now);
    if (decision.admit.length > 0 || decision.events.length > 0) live.dirty = true;
    this.d.events.handle(live, decision.events, decision.cancel);
    const admit = [...live.readmit.splice(0), ...decision.admit];
    this.d.persistence.save(live);
    return admit;
  }

  describe(job: JobRecord): { currentWave: number | null; maxPerMinute: number | null; maxConcurrent: number | null } {
    if (!this.d.live.drives(job)) return this.d.fallback.describe(job);
    const scheduler = this.d.live.get(job.id)?.scheduler ?? this.d.live.readOnly(job);
    const rollout = scheduler?.config.rollout;
    const released = scheduler?.view.released ?? -1;
    return { currentWave: released >= 0 ? released : null, maxPerMinute: rollout?.maxPerMinute ?? null, maxConcurrent: rollout?.maxConcurrent ?? null };
  }

  needsTicks(job: JobRecord): boolean {
    return this.d.live.drives(job);
  }

  forget(jobId: string): void {
    this.d.fallback.forget(jobId);
    this.d.live.forget(jobId);
  }

  /** Refuses (`InvalidRequest`) settings the scheduler cannot run, before the job is created. */
  validate(job: JobDefinition): void {
    if (!this.d.live.drives(job)) return;
    resolveConfig(this.d.live.configOf(job, []));
  }

  /** The dry run: the waves, bytes per site and completion time the job would have on these devices. */
  forecast(job: JobDefinition, deviceIds: readonly string[]): RolloutForecast {
    const config = this.d.live.configOf(job, this.d.repo.devices(deviceIds));
    const { waves, bytesPerSite, estimatedCompletionS, lowerBoundS } = forecast(config, { now: this.d.clock(), ledger: this.d.ledger });
    return { waves, bytesPerSite, estimatedCompletionS, lowerBoundS };
  }

  /** Every state an execution went through, in order, right after it is durable. */
  executionChanged(steps: readonly ExecutionRecord[]): void {
    const now = this.d.clock();
    for (const step of steps) {
      const live = this.d.live.get(step.jobId);
      if (!live) continue;
      const before = live.scheduler.view.executions[step.deviceId]?.status;
      if (before !== undefined && isTerminal(before) && !isTerminal(step.status)) live.bytes.delete(step.deviceId); // a retry downloads again
      const change = live.scheduler.recordStatus(step.deviceId, step.status, now);
      // The device's own count of verified bytes (its progress reports) backs the block server's.
      const reported = step.status === 'IN_PROGRESS' ? step.progress?.bytes : undefined;
      if (reported !== undefined) live.scheduler.recordProgress(step.deviceId, reported, now);
      live.dirty = true;
      this.d.events.handle(live, change.events, change.cancel);
      if (step.status !== before) this.d.events.kick(live);
    }
  }

  /** The device asked to be left alone until `until`; false when no rollout drives the job. */
  deferred(jobId: string, deviceId: string, until: number): boolean {
    const live = this.d.live.get(jobId);
    if (!live || !live.scheduler.config.targets.has(deviceId)) return false;
    live.scheduler.deviceDeferred(deviceId, until);
    live.dirty = true;
    this.d.events.kick(live);
    return true;
  }
}
