/**
 * The adapter between the jobs feature and the pure rollout scheduler
 * (firmware-updates/rollouts): one `RolloutScheduler` per running job it drives, fed with every
 * execution change, presence, deferrals and delivered firmware bytes, ticked by the jobs ticker,
 * persisted beside the job, and asked why each device has not updated.
 *
 * It is the jobs feature's `AdmissionPolicy` (broker/jobs/admission.ts): for a job the scheduler
 * drives (config.ts, `drivenByScheduler`), `decide()` is `tick(now).admit`; any other job goes to
 * the plain rate policy it wraps. Everything here runs synchronously between awaits: a scheduler
 * is loaded and reconciled with the executions table in one turn, and an abort crossing is decided
 * inside the status change that crosses it, so no later tick admits anyone.
 */
import type { Logger } from 'pino';
import { isTerminal, type ExecutionStatus, type StatusDetails } from '../../device-sdk/protocol/jobs.js';
import { topics } from '../../device-sdk/protocol/topics.js';
import { resolveConfig, type SchedulerConfig } from '../../rollouts/config.js';
import { forecast } from '../../rollouts/forecast.js';
import { kbpsToBytesPerSec } from '../../rollouts/rates.js';
import { RolloutScheduler, type RolloutEvent } from '../../rollouts/scheduler.js';
import type { StopCause } from '../../rollouts/state.js';
import type { AdmissionInput, AdmissionPolicy, ExecutionReason, RolloutForecast, RolloutHooks } from '../jobs/admission.js';
import type { ExecutionRecord, JobDefinition, JobRecord } from '../jobs/model.js';
import { isJobTerminal } from '../jobs/rollup.js';
import type { Publisher } from '../mqtt/publisher.js';
import type { PresenceTracker } from '../presence/tracker.js';
import type { RolloutRepo } from '../store/sqlite/rollouts.js';
import { drivenByScheduler, schedulerConfig } from './config.js';
import { reasonFor } from './reasons.js';

/** What the adapter asks the jobs feature to do (bound once the job service exists). */
export interface RolloutActions {
  /** The job becomes ABORTED: queued executions canceled, in-progress ones too per `abort.inProgress`. */
  abort(jobId: string, reason: string): Promise<unknown>;
  /** Cancels these executions if they have not started (the schedule's end). */
  cancel(jobId: string, deviceIds: readonly string[], details: StatusDetails): Promise<void>;
  /** Runs admission for the job now (a device that can join it connected). */
  admit(jobId: string): Promise<unknown>;
}

export interface RolloutsDeps {
  repo: RolloutRepo;
  presence: PresenceTracker;
  publisher: Publisher;
  clock: () => number;
  log: Logger;
  /** `BATON_EGRESS_BYTES_PER_SEC`; 0 is none. */
  egressBytesPerSec: number;
  /** `BATON_JOBS_MAX_PER_MINUTE`, for jobs without firmware that set no `maxPerMinute`. */
  defaultMaxPerMinute: number;
  /** The policy of the jobs the scheduler does not drive. */
  fallback: AdmissionPolicy;
}

interface Live {
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
}

/** A short text for the job's `reason` when the scheduler aborts it. */
export function describeStop(cause: StopCause): string {
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

const iso = (ms: number) => new Date(ms).toISOString();

/** After a restart, how long a device that was online has to reconnect before it counts as offline. */
export const RECONNECT_GRACE_MS = 30_000;
const LINK_CACHE_MS = 30_000;
/**
 * Admission runs on the jobs tick and, this long after a batch of events that can free budget
 * (a download's first bytes or its last, an outcome, a device going away), so a short download
 * is followed at once rather than a tick later.
 */
const KICK_MS = 20;

/** The wire form of a scheduler event on `fleet/events/rollouts/{jobId}`. */
export function eventPayload(jobId: string, e: RolloutEvent): Record<string, unknown> {
  const { type, at, ...rest } = e;
  const extra: Record<string, unknown> = { ...rest };
  if (e.type === 'wave-passed') extra['soakUntil'] = iso(e.soakUntil);
  if (e.type === 'stopped') extra['reason'] = describeStop(e.cause);
  return { jobId, event: type, ...extra, at: iso(at) };
}

export class Rollouts implements AdmissionPolicy, RolloutHooks {
  private readonly live = new Map<string, Live>();
  private actions: RolloutActions | undefined;
  private readonly saving = new Set<Promise<void>>();
  private readonly closers: (() => void)[] = [];
  private closed = false;
  /** Jobs whose admission is due shortly (`kick`). */
  private readonly kicks = new Map<string, NodeJS.Timeout>();
  /** Reported links of devices outside any live rollout, cached for the block server. */
  private readonly links = new Map<string, { kbps: number | undefined; at: number }>();

  constructor(private readonly d: RolloutsDeps) {}

  /** The job service's actions; until bound, stops are only logged. */
  bind(actions: RolloutActions): void {
    this.actions = actions;
  }

  drives(job: Pick<JobDefinition, 'type' | 'continuous' | 'rollout' | 'abort' | 'schedule'>): boolean {
    return drivenByScheduler(job);
  }

  // --- AdmissionPolicy ------------------------------------------------------------------------

  async decide(input: AdmissionInput): Promise<string[]> {
    if (!this.drives(input.job)) return this.d.fallback.decide(input);
    let live: Live;
    try {
      live = this.load(input.job);
    } catch (err) {
      // One job's rollout that cannot be planned must not stop the others' ticks.
      this.d.log.error({ err, jobId: input.job.id }, 'rollout not loaded; nothing admitted');
      return [];
    }
    live.job = input.job;
    const decision = live.scheduler.tick(input.now);
    if (decision.admit.length > 0 || decision.events.length > 0) live.dirty = true;
    this.handle(live, decision.events, decision.cancel);
    const admit = [...live.readmit.splice(0), ...decision.admit];
    this.save(live);
    return admit;
  }

  describe(job: JobRecord): { currentWave: number | null; maxPerMinute: number | null; maxConcurrent: number | null } {
    if (!this.drives(job)) return this.d.fallback.describe(job);
    const scheduler = this.live.get(job.id)?.scheduler ?? this.readOnly(job);
    const rollout = scheduler?.config.rollout;
    const released = scheduler?.view.released ?? -1;
    return { currentWave: released >= 0 ? released : null, maxPerMinute: rollout?.maxPerMinute ?? null, maxConcurrent: rollout?.maxConcurrent ?? null };
  }

  needsTicks(job: JobRecord): boolean {
    return this.drives(job);
  }

  forget(jobId: string): void {
    this.d.fallback.forget(jobId);
    const live = this.live.get(jobId);
    if (!live) return;
    live.dirty = true;
    this.save(live);
    this.live.delete(jobId);
  }

  // --- RolloutHooks ---------------------------------------------------------------------------

  executionChanged(steps: readonly ExecutionRecord[]): void {
    const now = this.d.clock();
    for (const step of steps) {
      const live = this.live.get(step.jobId);
      if (!live) continue;
      const before = live.scheduler.view.executions[step.deviceId]?.status;
      if (before !== undefined && isTerminal(before) && !isTerminal(step.status)) live.bytes.delete(step.deviceId); // a retry downloads again
      const change = live.scheduler.recordStatus(step.deviceId, step.status, now);
      // The device's own count of verified bytes (its progress reports) backs the block server's.
      const reported = step.status === 'IN_PROGRESS' ? step.progress?.bytes : undefined;
      if (reported !== undefined) live.scheduler.recordProgress(step.deviceId, reported, now);
      live.dirty = true;
      this.handle(live, change.events, change.cancel);
      if (step.status !== before) this.kick(live);
    }
  }

  async deviceConnected(deviceId: string): Promise<void> {
    const now = this.d.clock();
    const joinable: string[] = [];
    for (const live of this.live.values()) {
      const s = live.scheduler;
      if (!s.config.targets.has(deviceId)) continue;
      s.deviceConnected(deviceId, now);
      live.dirty = true;
      const wave = s.waveOf(deviceId);
      if (s.phase === 'running' && !s.view.executions[deviceId] && wave !== undefined && wave <= s.view.released) joinable.push(live.job.id);
    }
    for (const jobId of joinable) {
      await this.actions?.admit(jobId).catch((err: unknown) => this.d.log.error({ err, jobId }, 'rollout admission on connect failed'));
    }
  }

  deviceDisconnected(deviceId: string): void {
    const now = this.d.clock();
    for (const live of this.live.values()) {
      if (!live.scheduler.config.targets.has(deviceId)) continue;
      live.scheduler.deviceDisconnected(deviceId, now);
      live.dirty = true;
      this.kick(live);
    }
  }

  /** A device went stale (silent for 3 × its interval): counted for health gating during a soak. */
  deviceStale(deviceId: string): void {
    const at = this.d.clock();
    for (const live of this.live.values()) live.scheduler.recordHealth({ deviceId, kind: 'stale', at });
  }

  /** A device rebooted (it said so, or its uptime went back): counted for health gating during a soak. */
  deviceRebooted(deviceId: string): void {
    const at = this.d.clock();
    for (const live of this.live.values()) live.scheduler.recordHealth({ deviceId, kind: 'reboot', at });
  }

  deferred(jobId: string, deviceId: string, until: number): boolean {
    const live = this.live.get(jobId);
    if (!live || !live.scheduler.config.targets.has(deviceId)) return false;
    live.scheduler.deviceDeferred(deviceId, until);
    live.dirty = true;
    this.kick(live);
    return true;
  }

  reasons(job: JobRecord, executions: readonly ExecutionRecord[]): Map<string, ExecutionReason | null> | undefined {
    const scheduler = this.schedulerFor(job);
    if (!scheduler) return undefined;
    const now = this.d.clock();
    return new Map(executions.map((e) => [e.deviceId, reasonFor(scheduler, e, now)]));
  }

  /** Why one device has (not) updated, including devices without an execution: `not-targeted`, `incompatible`. */
  why(job: JobRecord, deviceId: string, execution: { status: ExecutionStatus } | undefined, excluded: boolean): ExecutionReason | null | undefined {
    if (!execution) return excluded ? { reason: 'incompatible', details: null } : { reason: 'not-targeted', details: null };
    const scheduler = this.schedulerFor(job);
    if (!scheduler) return undefined;
    return reasonFor(scheduler, { deviceId, status: execution.status }, this.d.clock());
  }

  validate(job: JobDefinition): void {
    if (!this.drives(job)) return;
    resolveConfig(this.configOf(job, []));
  }

  forecast(job: JobDefinition, deviceIds: readonly string[]): RolloutForecast {
    const config = this.configOf(job, this.d.repo.devices(deviceIds));
    const { waves, bytesPerSite, estimatedCompletionS, lowerBoundS } = forecast(config);
    return { waves, bytesPerSite, estimatedCompletionS, lowerBoundS };
  }

  // --- firmware delivery (the block server's hooks) -----------------------------------------

  /** Firmware bytes handed to a device's socket: fed to the scheduler as the device's cumulative count. */
  delivered(deviceId: string, firmwareId: string, bytes: number): void {
    const now = this.d.clock();
    for (const live of this.live.values()) {
      if (live.job.firmware?.id !== firmwareId) continue;
      const exec = live.scheduler.view.executions[deviceId];
      if (!exec || isTerminal(exec.status)) continue;
      // Counted from this attempt's first byte here; the device's reports fill in (the scheduler keeps the larger).
      const total = (live.bytes.get(deviceId) ?? 0) + bytes;
      live.bytes.set(deviceId, total);
      const before = exec.bytes;
      live.scheduler.recordProgress(deviceId, total, now);
      live.dirty = true;
      // Its first bytes (it no longer holds its whole budget share) or its last: admit the next.
      const size = live.scheduler.config.firmwareBytes;
      if ((before === 0 && exec.bytes > 0) || (before < size && exec.bytes >= size)) this.kick(live);
    }
  }

  /**
   * Whether bytes of this firmware may flow to the device now: false while a rollout of it that
   * has admitted the device has the device's maintenance window closed (or its schedule ended).
   */
  mayStream(deviceId: string, firmwareId: string, now = this.d.clock()): boolean {
    for (const live of this.live.values()) {
      if (live.job.firmware?.id !== firmwareId) continue;
      const s = live.scheduler;
      const exec = s.view.executions[deviceId];
      if (!exec || isTerminal(exec.status)) continue;
      if (!s.windowsFor(deviceId).isInWindow(now)) return false;
    }
    return true;
  }

  /**
   * The rate to pace a device's firmware blocks to, from the `linkKbps` it reports: the one its
   * rollout planned with, else its latest health report (looked up at most every 30 s).
   */
  deviceBytesPerSec(deviceId: string): number | undefined {
    for (const live of this.live.values()) {
      const kbps = live.scheduler.config.targets.get(deviceId)?.linkKbps;
      if (kbps !== undefined && kbps > 0) return kbpsToBytesPerSec(kbps);
    }
    const now = this.d.clock();
    let cached = this.links.get(deviceId);
    if (!cached || now - cached.at > LINK_CACHE_MS || now < cached.at) {
      cached = { kbps: this.d.repo.linkKbps(deviceId), at: now };
      this.links.set(deviceId, cached);
      if (this.links.size > 100_000) this.links.clear();
    }
    return cached.kbps === undefined ? undefined : kbpsToBytesPerSec(cached.kbps);
  }

  /** When a closed window next opens for this device's firmware (epoch ms), if one does. */
  opensAt(deviceId: string, firmwareId: string, now = this.d.clock()): number | undefined {
    let opens: number | undefined;
    for (const live of this.live.values()) {
      if (live.job.firmware?.id !== firmwareId || !live.scheduler.config.targets.has(deviceId)) continue;
      const next = live.scheduler.windowsFor(deviceId).nextWindowStart(now);
      if (next !== undefined) opens = Math.max(opens ?? next, next);
    }
    return opens;
  }

  /** The scheduler of a job the block server may ask about (tests, benchmarks). */
  scheduler(jobId: string): RolloutScheduler | undefined {
    return this.live.get(jobId)?.scheduler;
  }

  // --- lifecycle --------------------------------------------------------------------------------

  /** Loads every unfinished job the scheduler drives, so presence and changes reach it from the start. */
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

  onClose(closer: () => void): void {
    this.closers.push(closer);
  }

  /** Saves every scheduler and waits for the writes. */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.closers.splice(0)) c();
    for (const t of this.kicks.values()) clearTimeout(t);
    this.kicks.clear();
    for (const live of this.live.values()) {
      live.dirty = true;
      this.save(live);
    }
    this.live.clear();
    await Promise.all(this.saving);
  }

  // --- internals --------------------------------------------------------------------------------

  private configOf(job: Pick<JobRecord, 'id' | 'type' | 'firmware' | 'rollout' | 'abort' | 'schedule'>, targets: ReturnType<RolloutRepo['targets']>): SchedulerConfig {
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
  private schedulerFor(job: JobRecord): RolloutScheduler | undefined {
    if (!this.drives(job)) return undefined;
    const live = this.live.get(job.id);
    if (live) return live.scheduler;
    if (!isJobTerminal(job.status)) return this.load(job).scheduler;
    return this.readOnly(job);
  }

  private readOnly(job: JobRecord): RolloutScheduler | undefined {
    const stored = this.d.repo.get(job.id);
    if (!stored) return undefined;
    try {
      return RolloutScheduler.restore(stored.config as SchedulerConfig, stored.state);
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
  private load(job: JobRecord): Live {
    const existing = this.live.get(job.id);
    if (existing) return existing;
    const now = this.d.clock();
    const stored = this.d.repo.get(job.id);
    let live: Live | undefined;
    if (stored) {
      const config = stored.config as SchedulerConfig;
      try {
        live = { job, config, scheduler: RolloutScheduler.restore(config, stored.state), dirty: false, stored: true, bytes: new Map(), readmit: [] };
      } catch (err) {
        this.d.log.error({ err, jobId: job.id }, 'stored rollout state not restorable; planning again from the executions');
      }
    }
    if (!live) {
      const config = stored ? (stored.config as SchedulerConfig) : this.configOf(job, this.d.repo.targets(job.id));
      live = { job, config, scheduler: RolloutScheduler.create(config), dirty: true, stored: stored !== undefined, bytes: new Map(), readmit: [] };
    }
    this.live.set(job.id, live);
    this.reconcile(live, now);
    // A restored rollout (a broker restart) gives its devices time to reconnect before counting
    // them offline: an offline device does not hold its wave back, and a wave must not be judged
    // settled because its devices had not found the new broker yet.
    this.syncPresence(live, now, stored !== undefined);
    if (stored !== undefined) {
      const timer = setTimeout(() => this.live.get(job.id) === live && this.syncPresence(live, this.d.clock(), false), RECONNECT_GRACE_MS);
      timer.unref();
      this.closers.push(() => clearTimeout(timer));
    }
    this.save(live);
    return live;
  }

  private reconcile(live: Live, now: number): void {
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
      this.handle(live, change.events, change.cancel);
    }
  }

  /** `onlyConnects`: learn who is back, but count no one as gone yet (the grace after a restart). */
  private syncPresence(live: Live, now: number, onlyConnects: boolean): void {
    const s = live.scheduler;
    for (const id of s.config.targets.keys()) {
      const online = this.d.presence.session(id) !== undefined;
      const offline = s.view.offline[id] !== undefined;
      if (online && offline) s.deviceConnected(id, now);
      else if (!online && !offline && !onlyConnects) s.deviceDisconnected(id, now);
      else continue;
      live.dirty = true;
    }
  }

  /** Publishes the scheduler's events and acts on a stop: abort the job, or cancel what the schedule's end leaves. */
  private handle(live: Live, events: readonly RolloutEvent[], cancels: readonly string[]): void {
    const jobId = live.job.id;
    for (const e of events) {
      this.d.publisher.publish(topics.rolloutEvent(jobId), eventPayload(jobId, e)).catch((err: unknown) => this.d.log.warn({ err, jobId }, 'rollout event not published'));
      if (e.type !== 'stopped') continue;
      live.dirty = true;
      this.save(live);
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

  /** Admission for the job shortly, once for any number of calls until then. */
  private kick(live: Live): void {
    const jobId = live.job.id;
    if (this.closed || this.kicks.has(jobId) || !this.actions || live.scheduler.phase !== 'running') return;
    const timer = setTimeout(() => {
      this.kicks.delete(jobId);
      if (this.live.get(jobId) !== live) return;
      this.actions?.admit(jobId).catch((err: unknown) => this.d.log.error({ err, jobId }, 'rollout admission failed'));
    }, KICK_MS);
    timer.unref();
    this.kicks.set(jobId, timer);
  }

  private save(live: Live): void {
    if (!live.dirty) return;
    live.dirty = false;
    const now = this.d.clock();
    const state = JSON.stringify(live.scheduler.view);
    const phase = live.scheduler.phase;
    const write = live.stored
      ? this.d.repo.update(live.job.id, state, phase, now)
      : this.d.repo.insert(live.job.id, JSON.stringify(live.config), state, phase, now);
    live.stored = true;
    const tracked: Promise<void> = write
      .catch((err: unknown) => this.d.log.error({ err, jobId: live.job.id }, 'rollout state not saved'))
      .finally(() => this.saving.delete(tracked));
    this.saving.add(tracked);
  }
}
