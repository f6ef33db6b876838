/**
 * What the running rollouts do with their schedulers' events: publish each on
 * `fleet/events/rollouts/{jobId}`, act on a stop through the job service (abort the job, or cancel
 * what the schedule's end leaves), and run admission soon after anything that can free budget.
 */
import type { Logger } from 'pino';
import type { StatusDetails } from '../../device-sdk/protocol/jobs.js';
import { topics } from '../../device-sdk/protocol/topics.js';
import type { RolloutEvent } from '../../rollouts/scheduler.js';
import type { StopCause } from '../../rollouts/state.js';
import type { Publisher } from '../mqtt/publisher.js';
import type { LiveRollout } from './live.js';
import type { RolloutPersistence } from './persistence.js';

/** What the rollouts ask the jobs feature to do (bound once the job service exists). */
export interface RolloutActions {
  /** The job becomes ABORTED: queued executions canceled, in-progress ones too per `abort.inProgress`. */
  abort(jobId: string, reason: string): Promise<unknown>;
  /** Cancels these executions if they have not started (the schedule's end). */
  cancel(jobId: string, deviceIds: readonly string[], details: StatusDetails): Promise<void>;
  /** Runs admission for the job now (a device that can join it connected). */
  admit(jobId: string): Promise<unknown>;
}

/**
 * Admission runs on the jobs tick and, this long after a batch of events that can free budget
 * (a download's first bytes or its last, an outcome, a device going away), so a short download
 * is followed at once rather than a tick later.
 */
const KICK_MS = 20;

const iso = (ms: number) => new Date(ms).toISOString();

/** A short text for the job's `reason` when the scheduler aborts it. */
function describeStop(cause: StopCause): string {
  switch (cause.kind) {
    case 'abort-criterion': {
      const c = cause.criterion;
      return `abort criterion crossed: ${c.failureType} ≥ ${c.thresholdPercentage}% after ${c.minExecuted} executed`;
    }
    case 'wave-failed':
      return `wave ${cause.wave} failed its success gate (${Math.round(cause.successPct * 10) / 10}% succeeded)`;
    case 'health':
      return `wave ${cause.wave} regressed health: ${cause.regressions.map((r) => r.metric).join(', ')}`;
    case 'schedule-end':
      return 'the schedule ended';
  }
}

/** The wire form of a scheduler event on `fleet/events/rollouts/{jobId}`. */
function eventPayload(jobId: string, e: RolloutEvent): Record<string, unknown> {
  const { type, at, ...rest } = e;
  const extra: Record<string, unknown> = { ...rest };
  if (e.type === 'wave-passed') extra['soakUntil'] = iso(e.soakUntil);
  if (e.type === 'stopped') extra['reason'] = describeStop(e.cause);
  return { jobId, event: type, ...extra, at: iso(at) };
}

export interface RolloutEventsDeps {
  publisher: Publisher;
  log: Logger;
  persistence: RolloutPersistence;
  /** Whether the rollout is still its job's live one when a delayed admission fires. */
  isCurrent(live: LiveRollout): boolean;
}

export class RolloutEvents {
  private actions: RolloutActions | undefined;
  /** Jobs whose admission is due shortly (`kick`). */
  private readonly kicks = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly d: RolloutEventsDeps) {}

  /** The job service's actions; until bound, stops are only logged. */
  bind(actions: RolloutActions): void {
    this.actions = actions;
  }

  /** Publishes the scheduler's events and acts on a stop: abort the job, or cancel what the schedule's end leaves. */
  handle(live: LiveRollout, events: readonly RolloutEvent[], cancels: readonly string[]): void {
    const jobId = live.job.id;
    for (const e of events) {
      this.d.publisher.publish(topics.rolloutEvent(jobId), eventPayload(jobId, e)).catch((err: unknown) => this.d.log.warn({ err, jobId }, 'rollout event not published'));
      if (e.type !== 'stopped') continue;
      this.d.persistence.saveNow(live);
      const actions = this.actions;
      if (!actions) {
        this.d.log.error({ jobId, cause: e.cause }, 'rollout stopped before the job service was bound');
        continue;
      }
      if (e.phase === 'aborted') {
        this.d.log.warn({ jobId, cause: e.cause }, 'rollout aborted');
        actions.abort(jobId, describeStop(e.cause)).catch((err: unknown) => this.d.log.warn({ err, jobId }, 'rollout abort not applied'));
        continue;
      }
      // The schedule ended. `cancel`: the scheduler named the not-started executions. `stop`: no
      // one more is admitted, so the never-admitted ones are canceled and the job can finish.
      const s = live.scheduler;
      const ids = s.config.endBehavior === 'cancel' ? cancels : [...s.config.targets.keys()].filter((id) => !s.view.executions[id]);
      if (ids.length > 0) actions.cancel(jobId, ids, { reason: 'ScheduleEnded' }).catch((err: unknown) => this.d.log.warn({ err, jobId }, 'schedule-end cancel failed'));
    }
  }

  /** Admission for the job now; failures are logged (a device connecting must not fail for it). */
  async admit(jobId: string): Promise<void> {
    await this.actions?.admit(jobId).catch((err: unknown) => this.d.log.error({ err, jobId }, 'rollout admission failed'));
  }

  /** Admission for the job shortly, once for any number of calls until then. */
  kick(live: LiveRollout): void {
    const jobId = live.job.id;
    if (this.closed || this.kicks.has(jobId) || !this.actions || live.scheduler.phase !== 'running') return;
    const timer = setTimeout(() => {
      this.kicks.delete(jobId);
      if (this.d.isCurrent(live)) void this.admit(jobId);
    }, KICK_MS);
    timer.unref();
    this.kicks.set(jobId, timer);
  }

  /** No admission is run from here on. */
  close(): void {
    this.closed = true;
    for (const t of this.kicks.values()) clearTimeout(t);
    this.kicks.clear();
  }
}
