/**
 * The simulator's measurements, kept apart from the simulation so the figures of merit (issue 7's
 * benchmark) are computed one way for tests and the bench: bytes granted per bucket, the time each
 * site had devices pending, and the envelope check on every 1 s window.
 */
import type { ExecutionStatus } from '../../device-sdk/protocol/jobs.js';
import { envelopeBytes } from '../../firmware-updates/pacing.js';
import type { RolloutEvent } from '../../rollouts/progression.js';
import type { SimReport, SiteFigures } from './sim-types.js';
import type { Phase, StopCause } from '../../rollouts/state.js';

/**
 * Checks a level's grants against pacing's envelope as they happen: in every window of `windowMs`
 * ending on a grant, no more than `envelopeBytes` (rate × window + one block on small links; plus
 * one byte for float rounding). The worst windows start and end on grants, so checking those is
 * checking all. Keeps only the grants of the last window, in parallel number arrays (a
 * 10,000-device run grants over a million blocks).
 */
export class EnvelopeMeter {
  violations = 0;
  private readonly at: number[] = [];
  private readonly bytes: number[] = [];
  private head = 0;
  private sum = 0;
  private readonly allowed: number;

  constructor(
    rate: number,
    blockBytes: number,
    maxDepthBytes: number,
    private readonly windowMs = 1000,
  ) {
    this.allowed = envelopeBytes(rate, windowMs, blockBytes, maxDepthBytes) + 1;
  }

  add(at: number, bytes: number): void {
    this.at.push(at);
    this.bytes.push(bytes);
    this.sum += bytes;
    while (this.at[this.head]! < at - this.windowMs) this.sum -= this.bytes[this.head++]!;
    if (this.sum > this.allowed) this.violations++;
    if (this.head > 4096) this.compact();
  }

  private compact(): void {
    this.at.splice(0, this.head);
    this.bytes.splice(0, this.head);
    this.head = 0;
  }
}

/** Per-site bookkeeping: bytes granted, and time with at least one pending device (exact, not sampled). */
export class SiteMeter {
  bytes = 0;
  pendingMs = 0;
  peakInFlight = 0;
  readonly envelope: EnvelopeMeter | undefined;
  private pending = 0;
  private pendingSince = 0;
  private inFlight = 0;
  private linkSum = 0;
  private subscriptionArea = 0;
  private sampledAt = 0;

  constructor(
    readonly budget: number,
    blockBytes: number,
    maxDepthBytes: number,
  ) {
    this.envelope = Number.isFinite(budget) ? new EnvelopeMeter(budget, blockBytes, maxDepthBytes) : undefined;
  }

  grant(at: number, bytes: number): void {
    this.bytes += bytes;
    this.envelope?.add(at, bytes);
  }

  /** A device became pending (+1) or stopped being pending (−1). */
  pendingChange(delta: 1 | -1, now: number): void {
    this.sample(now);
    if (this.pending === 0 && delta > 0) this.pendingSince = now;
    this.pending += delta;
    if (this.pending === 0) this.pendingMs += now - this.pendingSince;
  }

  downloadChange(delta: 1 | -1, linkBytesPerSec: number, now: number): void {
    this.sample(now);
    this.linkSum += delta * linkBytesPerSec;
    this.inFlight += delta;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
  }

  /** Integrates Σ link ÷ budget over pending time, up to `now`. */
  private sample(now: number): void {
    if (this.pending > 0) this.subscriptionArea += (Math.min(this.linkSum, Infinity) / this.budget) * (now - this.sampledAt);
    this.sampledAt = now;
  }

  subscription(): number {
    return this.pendingMs > 0 ? this.subscriptionArea / this.pendingMs : NaN;
  }

  /** Closes an open pending interval at the end of the run. */
  close(now: number): void {
    this.sample(now);
    if (this.pending > 0) this.pendingMs += now - this.pendingSince;
    this.pendingSince = now;
  }

  utilization(): number {
    return this.pendingMs > 0 && Number.isFinite(this.budget) ? (this.bytes * 1000) / (this.budget * this.pendingMs) : NaN;
  }
}

/** The figures of every site that has a budget. */
export function siteFigures(meters: ReadonlyMap<string, SiteMeter>): Record<string, SiteFigures> {
  const figures: Record<string, SiteFigures> = {};
  for (const [site, m] of meters) {
    if (site === '') continue;
    figures[site] = { budget: m.budget, bytes: m.bytes, pendingS: m.pendingMs / 1000, utilization: m.utilization(), peakInFlight: m.peakInFlight, subscription: m.subscription() };
  }
  return figures;
}

export interface ReportInput {
  start: number;
  end: number;
  lastByteAt: number;
  lastOutcomeAt: number;
  lowerBoundS: number;
  phase: Phase;
  stop: StopCause | null;
  meters: ReadonlyMap<string, SiteMeter>;
  egress: EnvelopeMeter | undefined;
  windowInterruptions: number;
  admitted: number;
  admittedAfterStop: number;
  statuses: readonly ExecutionStatus[];
  events: RolloutEvent[];
}

export function buildReport(r: ReportInput): SimReport {
  for (const meter of r.meters.values()) meter.close(r.end);
  const statuses: Partial<Record<ExecutionStatus, number>> = {};
  for (const s of r.statuses) statuses[s] = (statuses[s] ?? 0) + 1;
  let capViolations = r.egress?.violations ?? 0;
  for (const meter of r.meters.values()) capViolations += meter.envelope?.violations ?? 0;
  return {
    makespanS: (r.lastByteAt - r.start) / 1000,
    finishedS: (r.lastOutcomeAt - r.start) / 1000,
    lowerBoundS: r.lowerBoundS,
    phase: r.phase,
    stop: r.stop,
    sites: siteFigures(r.meters),
    capViolations,
    windowInterruptions: r.windowInterruptions,
    admitted: r.admitted,
    admittedAfterStop: r.admittedAfterStop,
    statuses,
    events: r.events,
  };
}
