/**
 * The rollout scheduler for one job: a pure state machine on an injected clock. The jobs feature
 * feeds it events (status changes, progress bytes, presence) and calls `tick(now)`; it answers with
 * decisions (devices to notify, executions to cancel, rollout events). No timers, no I/O: the same
 * object runs in the broker, in the simulator and in tests, and its state is plain JSON.
 */
import { isTerminal, type ExecutionStatus } from '../device-sdk/protocol/jobs.js';
import { BatonError } from '../device-sdk/protocol/errors.js';
import { Budgets } from './budgets.js';
import { priorOf, resolveConfig, siteOf, type ResolvedConfig, type SchedulerConfig } from './config.js';
import { isOutcome, type HealthEvent } from './gates.js';
import { BudgetLedger } from './ledger.js';
import { advance, checkAbort, startRollout, stopRollout, type Progress, type RolloutEvent } from './progression.js';
import { RolloutQueues } from './queues.js';
import { initialState, parseState, type Phase, type RolloutState } from './state.js';
import { planWaves } from './waves.js';
import { createWindowResolver, type MaintenanceWindows } from './windows.js';

export type { RolloutEvent } from './progression.js';

export interface Decision {
  /** Devices to notify now (their executions become visible, QUEUED with reason `notified`). */
  admit: string[];
  /** Executions to cancel (an abort, or the schedule's end with `cancel`). */
  cancel: string[];
  events: RolloutEvent[];
  phase: Phase;
  /** The latest time to tick again for a timed change (start, soak end, end); ticks in between are fine. */
  wakeAt: number | null;
}

export interface SchedulerOptions {
  /**
   * The service's budgets, shared with every other rollout running on it: the scheduler joins it
   * under its job id (the caller makes it leave when the job is forgotten). Without one, the
   * rollout has the budgets to itself (a read-only copy, a simulation, a test).
   */
  ledger?: BudgetLedger | undefined;
}

/** What a status change caused, decided in the same call: an abort is final before it returns. */
export interface StatusChange {
  events: RolloutEvent[];
  cancel: string[];
}

export class RolloutScheduler {
  private readonly queues: RolloutQueues;
  private readonly resolveWindows: ReturnType<typeof createWindowResolver>;
  private readonly progress: Progress;
  private readonly budgets: Budgets;
  private readonly ledger: BudgetLedger;
  /** Resolved once per device: the block server asks for every block. */
  private readonly windows = new Map<string, MaintenanceWindows>();

  private constructor(
    readonly config: ResolvedConfig,
    private readonly state: RolloutState,
    options: SchedulerOptions,
  ) {
    this.queues = new RolloutQueues(state, { siteOf: (id) => siteOf(config, id), prior: (id) => priorOf(config, id), firmwareBytes: config.firmwareBytes });
    this.resolveWindows = createWindowResolver(config.jobWindows);
    const isAway = (id: string, now: number) => this.isAway(id, now);
    this.ledger = options.ledger ?? new BudgetLedger();
    this.budgets = new Budgets({ config, state, queues: this.queues, ledger: this.ledger, isAway, windowsFor: (id) => this.windowsFor(id) });
    this.ledger.join(config.jobId, this.budgets);
    this.progress = { config, state, queues: this.queues, isAway, cancels: [] };
  }

  static create(config: SchedulerConfig, options: SchedulerOptions = {}): RolloutScheduler {
    const resolved = resolveConfig(config);
    const waves = planWaves([...resolved.targets.values()], resolved.rollout, resolved.jobId);
    const offline: Record<string, number> = {};
    for (const t of resolved.targets.values()) if (t.offlineSince !== undefined) offline[t.id] = t.offlineSince;
    return new RolloutScheduler(resolved, initialState(waves, offline), options);
  }

  /** Resumes from a state `toJSON` returned (after a restart): same waves, admissions, partial downloads, budgets. */
  static restore(config: SchedulerConfig, json: unknown, options: SchedulerOptions = {}): RolloutScheduler {
    const state = parseState(json);
    const resolved = resolveConfig(config);
    const unknown = state.waves.flat().find((id) => !resolved.targets.has(id));
    if (unknown !== undefined) throw new BatonError('Conflict', `stored rollout state names device ${unknown}, which the job does not target`);
    return new RolloutScheduler(resolved, state, options);
  }

  /** A copy of the state, to persist. */
  toJSON(): RolloutState {
    return structuredClone(this.state);
  }

  /** The live state, for read-only queries (`explain`, dashboards); never mutate it. */
  get view(): Readonly<RolloutState> {
    return this.state;
  }

  get phase(): Phase {
    return this.state.phase;
  }

  // --- events -----------------------------------------------------------------------------------

  /** Every execution status change, in order (a retried failure is FAILED then QUEUED). */
  recordStatus(id: string, status: ExecutionStatus, now: number): StatusChange {
    if (!this.config.targets.has(id)) return { events: [], cancel: [] };
    let exec = this.state.executions[id];
    const from = exec?.status;
    if (!exec) {
      if (status === 'QUEUED') return { events: [], cancel: [] }; // still waiting for admission
      exec = this.state.executions[id] = { status, admittedAt: now, bytes: 0, activeAt: now };
    }
    exec.status = status;
    if (from === 'QUEUED' && status === 'IN_PROGRESS') exec.activeAt = now; // the stall clock starts at the start
    // A retry downloads again; the capacity learned for the device stays.
    if (from !== undefined && isTerminal(from) && !isTerminal(status)) Object.assign(exec, { bytes: 0, rate: undefined, activeAt: now });
    if (isOutcome(status)) {
      if (exec.outcome) this.state.outcomes[exec.outcome] -= 1;
      this.state.outcomes[status] += 1;
      exec.outcome = status;
    }
    this.queues.count(id, from, status);
    const events: RolloutEvent[] = [];
    checkAbort(this.progress, now, events);
    events.push(...advance(this.progress, now));
    return { events, cancel: this.takeCancels() };
  }

  /** Firmware bytes delivered to a device so far (cumulative), as the block server counts them. */
  recordProgress(id: string, bytes: number, now: number): void {
    const exec = this.state.executions[id];
    if (!exec || bytes <= exec.bytes) return;
    this.budgets.progress(id, exec, bytes, now);
    exec.bytes = Math.min(bytes, this.config.firmwareBytes);
    exec.activeAt = now;
    this.queues.track(id);
  }

  deviceConnected(id: string, now: number): void {
    if (this.state.offline[id] !== undefined) {
      delete this.state.offline[id];
      this.queues.offlineCount -= 1;
    }
    this.recordHealth({ deviceId: id, kind: 'reconnect', at: now });
  }

  deviceDisconnected(id: string, now: number): void {
    if (!this.config.targets.has(id) || this.state.offline[id] !== undefined) return;
    this.state.offline[id] = now;
    this.queues.offlineCount += 1;
  }

  /** The device asked to be left alone until `until` (e.g. busy, or on battery). */
  deviceDeferred(id: string, until: number): void {
    if (!this.config.targets.has(id)) return;
    if (this.state.deferred[id] === undefined) this.queues.deferredCount += 1;
    this.state.deferred[id] = until;
  }

  /** Counted only during a soak, for health gating (reconnects are counted by `deviceConnected`). */
  recordHealth(event: HealthEvent): void {
    const soak = this.state.soak;
    if (!soak || event.at < soak.since || !this.config.targets.has(event.deviceId)) return;
    const counts = (this.state.health[event.deviceId] ??= { reconnects: 0, reboots: 0, stale: 0 });
    counts[event.kind === 'reconnect' ? 'reconnects' : event.kind === 'reboot' ? 'reboots' : 'stale'] += 1;
  }

  /** Starts, ends, runs due gates, and admits; call on a timer (≈ 1 s while running) and after events. */
  tick(now: number): Decision {
    const events: RolloutEvent[] = [];
    if (this.state.phase === 'scheduled' && (this.config.startAt === undefined || now >= this.config.startAt)) startRollout(this.progress, now, events);
    if (this.state.phase === 'running' && this.config.endAt !== undefined && now >= this.config.endAt) stopRollout(this.progress, { kind: 'schedule-end' }, now, events);
    this.expireDeferrals(now);
    events.push(...advance(this.progress, now));
    const running = this.state.phase === 'running';
    // Not admitting any more: its shares of the sites go to the other rollouts.
    if (!running) this.ledger.stopWanting(this.config.jobId);
    const admit = running ? this.admit(now) : [];
    return { admit, cancel: this.takeCancels(), events, phase: this.state.phase, wakeAt: this.wakeAt() };
  }

  // --- queries (explain, the block server) ------------------------------------------------------

  /** The device's maintenance windows; the block server sends no bytes while they are closed. */
  windowsFor(id: string): MaintenanceWindows {
    let windows = this.windows.get(id);
    if (!windows) {
      const target = this.config.targets.get(id);
      const site = target?.site ? this.config.sites.get(target.site) : undefined;
      this.windows.set(id, (windows = this.resolveWindows(id, target ?? {}, site)));
    }
    return windows;
  }

  /** The rate a new download here is planned at: prior capacity, within the site budget and service cap. */
  budgetedRate(id: string): number {
    return this.budgets.budgetedRate(id);
  }

  /** The wave a device was planned into. */
  waveOf(id: string): number | undefined {
    return this.queues.waveOf.get(id);
  }

  isAway(id: string, now: number): boolean {
    return this.state.offline[id] !== undefined || (this.state.deferred[id] ?? -Infinity) > now;
  }

  // --- internals --------------------------------------------------------------------------------

  private takeCancels(): string[] {
    return this.progress.cancels.splice(0);
  }

  private expireDeferrals(now: number): void {
    if (this.queues.deferredCount === 0) return;
    for (const [id, until] of Object.entries(this.state.deferred)) {
      if (until > now) continue;
      delete this.state.deferred[id];
      this.queues.deferredCount -= 1;
    }
  }

  private wakeAt(): number | null {
    const { phase, soak } = this.state;
    const times = [phase === 'scheduled' ? this.config.startAt : undefined, phase === 'running' ? this.config.endAt : undefined, soak?.until];
    const due = times.filter((t): t is number => t !== undefined);
    return due.length > 0 ? Math.min(...due) : null;
  }

  private admit(now: number): string[] {
    const admitted = this.budgets.admit(now);
    for (const id of admitted) {
      this.state.executions[id] = { status: 'QUEUED', admittedAt: now, bytes: 0, activeAt: now };
      if (this.config.rollout.maxPerMinute !== undefined) this.state.notified.push(now);
      this.queues.count(id, undefined, 'QUEUED');
    }
    return admitted;
  }
}
