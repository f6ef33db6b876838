/**
 * The staged rollouts in the running broker: the adapter between the jobs feature and the pure
 * rollout scheduler (rollouts/). `Rollouts` is the one object the rest of the broker holds; it
 * composes one module per concern (live, admission, presence, delivery, events, persistence: see
 * README.md) and adds only the reasons shown per device.
 *
 * Everything here runs synchronously between awaits: a scheduler is loaded and reconciled with
 * the executions table in one turn, and an abort crossing is decided inside the status change
 * that crosses it, so no later tick admits anyone.
 */
import type { Logger } from 'pino';
import type { ExecutionStatus } from '../../device-sdk/protocol/jobs.js';
import { BudgetLedger } from '../../rollouts/ledger.js';
import type { AdmissionInput, AdmissionPolicy, ExecutionReason, RolloutForecast, RolloutHooks } from '../jobs/admission.js';
import type { ExecutionRecord, JobDefinition, JobRecord } from '../jobs/model.js';
import type { Boots } from '../health/boots.js';
import type { Publisher } from '../mqtt/publisher.js';
import type { PresenceTracker } from '../presence/tracker.js';
import type { RolloutRepo } from '../store/sqlite/rollouts.js';
import { RolloutAdmission } from './admission.js';
import { RolloutDelivery } from './delivery.js';
import { RolloutEvents, type RolloutActions } from './events.js';
import { LiveRollouts } from './live.js';
import { RolloutPersistence } from './persistence.js';
import { RolloutPresence } from './presence.js';
import { reasonFor } from './reasons.js';

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

export class Rollouts implements AdmissionPolicy, RolloutHooks {
  private readonly live: LiveRollouts;
  private readonly persistence: RolloutPersistence;
  private readonly events: RolloutEvents;
  private readonly admission: RolloutAdmission;
  private readonly devices: RolloutPresence;
  private readonly delivery: RolloutDelivery;
  private readonly closers: (() => void)[] = [];

  constructor(private readonly d: RolloutsDeps) {
    const { repo, clock, log } = d;
    // One per service: every rollout, and the downloads none drives, draw from the same site budgets.
    const ledger = new BudgetLedger();
    this.persistence = new RolloutPersistence({ repo, clock, log });
    this.events = new RolloutEvents({ publisher: d.publisher, log, persistence: this.persistence, isCurrent: (live) => this.live.isCurrent(live) });
    this.live = new LiveRollouts({ ...d, persistence: this.persistence, events: this.events, ledger });
    this.admission = new RolloutAdmission({ live: this.live, events: this.events, persistence: this.persistence, repo, clock, log, fallback: d.fallback, ledger });
    this.devices = new RolloutPresence({ live: this.live, events: this.events, clock });
    this.delivery = new RolloutDelivery({ live: this.live, events: this.events, repo, clock, ledger });
  }

  /** The job service's actions; until bound, stops are only logged. */
  bind(actions: RolloutActions): void {
    this.events.bind(actions);
  }

  drives(job: Pick<JobDefinition, 'type' | 'continuous' | 'rollout' | 'abort' | 'schedule'>): boolean {
    return this.live.drives(job);
  }

  // --- AdmissionPolicy (admission.ts) -----------------------------------------------------------

  decide(input: AdmissionInput): Promise<string[]> {
    return this.admission.decide(input);
  }

  describe(job: JobRecord): { currentWave: number | null; maxPerMinute: number | null; maxConcurrent: number | null } {
    return this.admission.describe(job);
  }

  needsTicks(job: JobRecord): boolean {
    return this.admission.needsTicks(job);
  }

  forget(jobId: string): void {
    this.admission.forget(jobId);
  }

  // --- RolloutHooks -----------------------------------------------------------------------------

  executionChanged(steps: readonly ExecutionRecord[]): void {
    this.admission.executionChanged(steps);
  }

  deferred(jobId: string, deviceId: string, until: number): boolean {
    return this.admission.deferred(jobId, deviceId, until);
  }

  validate(job: JobDefinition): void {
    this.admission.validate(job);
  }

  forecast(job: JobDefinition, deviceIds: readonly string[]): RolloutForecast {
    return this.admission.forecast(job, deviceIds);
  }

  deviceConnected(deviceId: string): Promise<void> {
    return this.devices.deviceConnected(deviceId);
  }

  firmwareRunning(deviceId: string, firmwareVersion: string): void {
    this.devices.firmwareRunning(deviceId, firmwareVersion);
  }

  reasons(job: JobRecord, executions: readonly ExecutionRecord[]): Map<string, ExecutionReason | null> | undefined {
    const scheduler = this.live.schedulerFor(job);
    if (!scheduler) return undefined;
    const now = this.d.clock();
    return new Map(executions.map((e) => [e.deviceId, reasonFor(scheduler, e, now)]));
  }

  /** Why one device has (not) updated, including devices without an execution: `not-targeted`, `incompatible`. */
  why(job: JobRecord, deviceId: string, execution: { status: ExecutionStatus } | undefined, excluded: boolean): ExecutionReason | null | undefined {
    if (!execution) return excluded ? { reason: 'incompatible', details: null } : { reason: 'not-targeted', details: null };
    const scheduler = this.live.schedulerFor(job);
    if (!scheduler) return undefined;
    return reasonFor(scheduler, { deviceId, status: execution.status }, this.d.clock());
  }

  // --- presence and health (presence.ts) ---------------------------------------------------------

  deviceDisconnected(deviceId: string): void {
    this.devices.deviceDisconnected(deviceId);
  }

  deviceStale(deviceId: string): void {
    this.devices.deviceStale(deviceId);
  }

  deviceRebooted(deviceId: string, boots: Boots): void {
    this.devices.deviceRebooted(deviceId, boots);
  }

  // --- firmware delivery (delivery.ts) ----------------------------------------------------------

  delivered(deviceId: string, firmwareId: string, bytes: number): void {
    this.delivery.delivered(deviceId, firmwareId, bytes);
  }

  mayStream(deviceId: string, firmwareId: string): boolean {
    return this.delivery.mayStream(deviceId, firmwareId);
  }

  deviceBytesPerSec(deviceId: string): number | undefined {
    return this.delivery.deviceBytesPerSec(deviceId);
  }

  // --- lifecycle ----------------------------------------------------------------------------------

  /** Loads every unfinished job the scheduler drives, so presence and changes reach it from the start. */
  start(jobs: readonly JobRecord[]): void {
    this.live.start(jobs);
  }

  /** Called at close (unsubscribing from what feeds the rollouts). */
  onClose(closer: () => void): void {
    this.closers.push(closer);
  }

  /** Saves every scheduler and waits for the writes. */
  async close(): Promise<void> {
    for (const c of this.closers.splice(0)) c();
    this.events.close();
    this.live.close();
    await this.persistence.flush();
  }
}
