/**
 * The running rollouts: one `RolloutScheduler` per unfinished job the scheduler drives, built the
 * first time the jobs feature asks about the job (its first admission, a listing, or at start),
 * synchronously from SQLite, so no status change slips between reading the executions and
 * reconciling with them.
 *
 * Schedulers are made here and nowhere else (`open`): planned from the job and its targets, or
 * restored from the store. What every scheduler of the broker shares is passed in here.
 */
import type { Logger } from 'pino';
import type { SchedulerConfig } from '../../rollouts/config.js';
import type { BudgetLedger } from '../../rollouts/ledger.js';
import { RolloutScheduler } from '../../rollouts/scheduler.js';
import type { JobDefinition, JobRecord } from '../jobs/model.js';
import { isJobTerminal } from '../jobs/rollup.js';
import type { PresenceTracker } from '../presence/tracker.js';
import type { RolloutRepo, RolloutTargetRow } from '../store/sqlite/rollouts.js';
import { drivenByScheduler, schedulerConfig } from './config.js';
import type { RolloutEvents } from './events.js';
import type { RolloutPersistence, StoredScheduler } from './persistence.js';
import { syncPresence } from './presence.js';

/** After a restart, how long a device that was online has to reconnect before it counts as offline. */
export const RECONNECT_GRACE_MS = 30_000;

export interface LiveRollout {
  job: JobRecord;
  config: SchedulerConfig;
  scheduler: RolloutScheduler;
  /** Changed since the last save. */
  dirty: boolean;
  /** The row exists (its config is stored). */
  stored: boolean;
  /** Firmware bytes the block server handed to each device for its current attempt, counted here (it reports increments). */
  bytes: Map<string, number>;
  /** Admitted in the scheduler's state but not in the store (a crash between the two): admitted again at the next decide. */
  readmit: string[];
  /** Updated devices already counted as having rebooted into the old version: once each (per broker run; a restart may count one again). */
  fellBack: Set<string>;
}

export interface LiveRolloutsDeps {
  repo: RolloutRepo;
  presence: PresenceTracker;
  clock: () => number;
  log: Logger;
  /** `BATON_EGRESS_BYTES_PER_SEC`; 0 is none. */
  egressBytesPerSec: number;
  /** `BATON_JOBS_MAX_PER_MINUTE`, for jobs without firmware that set no `maxPerMinute`. */
  defaultMaxPerMinute: number;
  persistence: RolloutPersistence;
  events: RolloutEvents;
  /** The service's one `BudgetLedger`: every running scheduler joins it (a read-only one does not), so rollouts share each site's budget. */
  ledger: BudgetLedger;
}

type ConfigJob = Pick<JobRecord, 'id' | 'type' | 'firmware' | 'rollout' | 'abort' | 'schedule'>;

export class LiveRollouts {
  private readonly byJob = new Map<string, LiveRollout>();
  /** The reconnect grace timers of restored rollouts. */
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly d: LiveRolloutsDeps) {}

  drives(job: Pick<JobDefinition, 'type' | 'continuous' | 'rollout' | 'abort' | 'schedule'>): boolean {
    return drivenByScheduler(job);
  }

  get(jobId: string): LiveRollout | undefined {
    return this.byJob.get(jobId);
  }

  values(): IterableIterator<LiveRollout> {
    return this.byJob.values();
  }

  /** Whether this is still the job's running rollout (a timer may outlive it). */
  isCurrent(live: LiveRollout): boolean {
    return this.byJob.get(live.job.id) === live;
  }

  /** The job finished: a last save, then it is no longer live. */
  forget(jobId: string): void {
    const live = this.byJob.get(jobId);
    if (!live) return;
    this.d.persistence.saveNow(live);
    this.byJob.delete(jobId);
    this.d.ledger.leave(jobId);
  }

  /** Saves every rollout and drops them (the broker is closing). */
  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const live of this.byJob.values()) {
      this.d.persistence.saveNow(live);
      this.d.ledger.leave(live.job.id);
    }
    this.byJob.clear();
  }

  /** The scheduler config a job gives, with these targets (its executions', or a dry run's devices). */
  configOf(job: ConfigJob, targets: readonly RolloutTargetRow[]): SchedulerConfig {
    return schedulerConfig({
      job,
      targets,
      sites: this.d.repo.sites(),
      isOnline: (id) => this.d.presence.session(id) !== undefined,
      now: this.d.clock(),
      egressBytesPerSec: this.d.egressBytesPerSec,
      defaultMaxPerMinute: this.d.defaultMaxPerMinute,
    });
  }

  /** The running scheduler, or (for a finished job) one restored read-only from its stored state. */
  schedulerFor(job: JobRecord): RolloutScheduler | undefined {
    if (!this.drives(job)) return undefined;
    const live = this.byJob.get(job.id);
    if (live) return live.scheduler;
    if (!isJobTerminal(job.status)) return this.load(job).scheduler;
    return this.readOnly(job);
  }

  /** The scheduler of a job shown but not run (finished, or asked about before it is loaded). */
  readOnly(job: JobRecord): RolloutScheduler | undefined {
    const stored = this.d.persistence.read(job.id);
    if (!stored) return undefined;
    try {
      return this.open(stored.config, stored);
    } catch (err) {
      this.d.log.warn({ err, jobId: job.id }, 'stored rollout state not readable');
      return undefined;
    }
  }

  /**
   * The job's scheduler: in memory, else restored from the store, else created from the job and
   * its executions. Then reconciled with the executions table (a change the last save missed) and
   * with presence (a restarted broker has no device connected until it reconnects).
   */
  load(job: JobRecord): LiveRollout {
    const existing = this.byJob.get(job.id);
    if (existing) return existing;
    const now = this.d.clock();
    const stored = this.d.persistence.read(job.id);
    let live: LiveRollout | undefined;
    if (stored) {
      try {
        live = this.live(job, stored.config, this.open(stored.config, stored, this.d.ledger), true);
      } catch (err) {
        this.d.log.error({ err, jobId: job.id }, 'stored rollout state not restorable; planning again from the executions');
      }
    }
    if (!live) {
      const config = stored ? stored.config : this.configOf(job, this.d.repo.targets(job.id));
      live = this.live(job, config, this.open(config, undefined, this.d.ledger), stored !== undefined);
      live.dirty = true;
    }
    this.byJob.set(job.id, live);
    this.reconcile(live, now);
    // A restored rollout (a broker restart) gives its devices time to reconnect before counting
    // them offline: an offline device does not hold its wave back, and a wave must not be judged
    // settled because its devices had not found the new broker yet.
    if (syncPresence(live.scheduler, this.d.presence, now, stored !== undefined)) live.dirty = true;
    if (stored !== undefined) this.afterGrace(live);
    this.d.persistence.save(live);
    return live;
  }

  /** Loads every unfinished job the scheduler drives, so presence and changes reach it from the broker's start. */
  start(jobs: readonly JobRecord[]): void {
    for (const job of jobs) {
      if (!this.drives(job) || isJobTerminal(job.status)) continue;
      try {
        this.load(job);
      } catch (err) {
        this.d.log.error({ err, jobId: job.id }, 'rollout not loaded');
      }
    }
  }

  /**
   * Where every scheduler is made: restored from what the store holds, else planned from the
   * config. A running one shares the service's budgets (`ledger`); a read-only one has its own.
   */
  private open(config: SchedulerConfig, stored: StoredScheduler | undefined, ledger?: BudgetLedger): RolloutScheduler {
    return stored ? RolloutScheduler.restore(config, stored.state, { ledger }) : RolloutScheduler.create(config, { ledger });
  }

  private live(job: JobRecord, config: SchedulerConfig, scheduler: RolloutScheduler, stored: boolean): LiveRollout {
    return { job, config, scheduler, dirty: false, stored, bytes: new Map(), readmit: [], fellBack: new Set() };
  }

  private afterGrace(live: LiveRollout): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.isCurrent(live) && syncPresence(live.scheduler, this.d.presence, this.d.clock(), false)) live.dirty = true;
    }, RECONNECT_GRACE_MS);
    timer.unref();
    this.timers.add(timer);
  }

  private reconcile(live: LiveRollout, now: number): void {
    const s = live.scheduler;
    for (const row of this.d.repo.executions(live.job.id)) {
      const exec = s.view.executions[row.deviceId];
      if (row.status === 'QUEUED' && row.admittedAt === null) {
        if (exec?.status === 'QUEUED') live.readmit.push(row.deviceId);
        continue;
      }
      if (exec?.status === row.status) continue;
      const change = s.recordStatus(row.deviceId, row.status, now);
      live.dirty = true;
      this.d.events.handle(live, change.events, change.cancel);
    }
  }
}
