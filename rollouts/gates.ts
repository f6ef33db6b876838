/**
 * The three gates of a staged rollout, as pure functions of counts: the wave success gate, the
 * abort criteria (AWS IoT Jobs' `abortConfig`), and health gating over the soak period.
 * The scheduler calls them after every status change, so a crossing is seen at the event itself.
 */
import type { ExecutionStatus } from '../device-sdk/protocol/jobs.js';
import type { AbortCriterion } from './settings.js';

/** Statuses that say how the firmware fared. CANCELED and REMOVED say nothing about it, so they count nowhere. */
export const OUTCOMES = ['SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT'] as const;
export type Outcome = (typeof OUTCOMES)[number];
export type OutcomeCounts = Record<Outcome, number>;

export const isOutcome = (s: ExecutionStatus): s is Outcome => (OUTCOMES as readonly string[]).includes(s);
export const noOutcomes = (): OutcomeCounts => ({ SUCCEEDED: 0, FAILED: 0, REJECTED: 0, TIMED_OUT: 0 });

export type WaveVerdict =
  | { state: 'running' }
  | { state: 'passed' | 'failed'; successPct: number; finished: number };

const TERMINAL: ReadonlySet<ExecutionStatus> = new Set(['SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT', 'CANCELED', 'REMOVED']);

/**
 * The success gate over a wave's executions: undecided while any is unfinished; then passed when
 * SUCCEEDED ÷ finished ≥ threshold. A wave whose executions were all canceled or removed taught
 * nothing against the firmware, so it passes (the abort criteria still guard the job).
 */
export function waveVerdict(statuses: Iterable<ExecutionStatus>, thresholdPct: number): WaveVerdict {
  let succeeded = 0;
  let finished = 0;
  for (const s of statuses) {
    if (!TERMINAL.has(s)) return { state: 'running' };
    if (!isOutcome(s)) continue;
    finished++;
    if (s === 'SUCCEEDED') succeeded++;
  }
  const successPct = finished === 0 ? 100 : (succeeded * 100) / finished;
  return { state: successPct >= thresholdPct ? 'passed' : 'failed', successPct, finished };
}

function failures(counts: OutcomeCounts, type: AbortCriterion['failureType']): number {
  return type === 'ALL' ? counts.FAILED + counts.REJECTED + counts.TIMED_OUT : counts[type];
}

/**
 * The first criterion crossed, if any: failures ÷ executed ≥ threshold once `minExecuted` devices
 * have an outcome. Counts are per device (its latest outcome), so a retried failure that later
 * succeeds stops counting as a failure, but a crossing already seen stays crossed (the caller latches).
 */
export function crossedCriterion(counts: OutcomeCounts, criteria: readonly AbortCriterion[]): AbortCriterion | undefined {
  const executed = counts.SUCCEEDED + counts.FAILED + counts.REJECTED + counts.TIMED_OUT;
  return criteria.find((c) => executed >= c.minExecuted && failures(counts, c.failureType) * 100 >= c.thresholdPercentage * executed);
}

// --- health gating ------------------------------------------------------------------------------

/**
 * A health event, as the broker sees it (broker/rollouts/presence.ts): `reconnect` and `stale`
 * from presence; `reboot` for every boot a device's health reports show (a crash loop is many)
 * and for an updated device found back on the old version when it reconciles. `at` is when it
 * happened (a boot is dated from the device's uptime), so a boot before the soak, such as the
 * one that installed the update, is not counted.
 */
export type HealthEventKind = 'reconnect' | 'reboot' | 'stale';
export interface HealthEvent {
  deviceId: string;
  kind: HealthEventKind;
  /** Epoch ms. */
  at: number;
}

/** One device's events over the observation period. */
export interface HealthCounts {
  reconnects: number;
  reboots: number;
  stale: number;
}

/** A group of devices over the same period: per-device rates and the share that went stale. */
export interface HealthSummary {
  devices: number;
  reconnectsPerDevice: number;
  rebootsPerDevice: number;
  stalePct: number;
}

/** How much worse than the baseline an updated wave may be before it fails; absolute margins. */
export interface HealthTolerance {
  reconnectsPerDevice: number;
  rebootsPerDevice: number;
  stalePct: number;
}
export const defaultHealthTolerance: HealthTolerance = { reconnectsPerDevice: 0.5, rebootsPerDevice: 0.1, stalePct: 5 };

export function summarizeHealth(devices: readonly HealthCounts[]): HealthSummary {
  const n = devices.length;
  if (n === 0) return { devices: 0, reconnectsPerDevice: 0, rebootsPerDevice: 0, stalePct: 0 };
  const sum = (f: (c: HealthCounts) => number) => devices.reduce((acc, c) => acc + f(c), 0);
  return {
    devices: n,
    reconnectsPerDevice: sum((c) => c.reconnects) / n,
    rebootsPerDevice: sum((c) => c.reboots) / n,
    stalePct: (sum((c) => (c.stale > 0 ? 1 : 0)) * 100) / n,
  };
}

export interface HealthRegression {
  metric: keyof HealthTolerance;
  updated: number;
  baseline: number;
}

/**
 * Metrics on which the updated devices did worse than the baseline (devices still on the old
 * firmware, observed over the same soak period) by more than the tolerance. Comparing against a
 * concurrent control group cancels out what is not the firmware's doing: a site outage, the night.
 */
export function healthRegressions(updated: HealthSummary, baseline: HealthSummary, tolerance: HealthTolerance): HealthRegression[] {
  if (updated.devices === 0) return [];
  const metrics = Object.keys(tolerance) as (keyof HealthTolerance)[];
  return metrics
    .filter((m) => updated[m] - baseline[m] > tolerance[m])
    .map((metric) => ({ metric, updated: updated[metric], baseline: baseline[metric] }));
}
