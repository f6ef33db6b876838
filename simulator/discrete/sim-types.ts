/**
 * The simulator's public shapes: the fleet it is given, the options of a run, and the report it
 * returns (the figures of merit of issue 7's benchmark).
 */
import type { ExecutionStatus } from '../../device-sdk/protocol/jobs.js';
import type { SchedulerConfig } from '../../rollouts/config.js';
import type { RolloutEvent } from '../../rollouts/progression.js';
import type { WindowSettings } from '../../rollouts/settings.js';
import type { Phase, StopCause } from '../../rollouts/state.js';

export interface SimDevice {
  id: string;
  site: string | null;
  /** What the link really carries, bytes/s. */
  linkBytesPerSec: number;
  /** What the device reports (`linkKbps`); absent when it does not. It may be wrong. */
  linkKbps?: number;
  /** How its install ends; default SUCCEEDED. */
  outcome?: 'SUCCEEDED' | 'FAILED' | 'REJECTED';
  /** Drops offline once this share of the image has arrived, for `offlineS`. */
  dropAtShare?: number;
  offlineS?: number;
  timeZone?: string;
  windows?: WindowSettings[];
}

export interface SimOptions {
  job: Omit<SchedulerConfig, 'targets'>;
  devices: readonly SimDevice[];
  /** Epoch ms of the simulated start (windows are evaluated in real zones). */
  startAt: number;
  blockBytes: number;
  /** Ceiling on a pacing bucket's depth (`BATON_FIRMWARE_BURST_BYTES`); default the broker's. */
  maxDepthBytes?: number;
  tickS?: number;
  /** From notify to the device's first block request. */
  notifyLatencyS?: number;
  /** From the last byte to the device's outcome. */
  installS?: number;
  /** Simulated seconds after which the run gives up. */
  limitS?: number;
  /** Simulated seconds at which the broker "restarts": the scheduler is rebuilt from its JSON state. */
  restartAtS?: number[];
}

export interface SiteFigures {
  budget: number;
  bytes: number;
  pendingS: number;
  /** Bytes ÷ (budget × time with pending devices). */
  utilization: number;
  peakInFlight: number;
  /** Mean over pending time of Σ real link rates of the downloads in flight ÷ budget: ≈ 1 is "enough, not more". */
  subscription: number;
}

export interface SimReport {
  /** From the start to the last byte delivered. */
  makespanS: number;
  /** From the start to the last outcome. */
  finishedS: number;
  /** max over sites of (site bytes ÷ site budget), and all bytes ÷ the service cap. */
  lowerBoundS: number;
  phase: Phase;
  stop: StopCause | null;
  sites: Record<string, SiteFigures>;
  /** 1 s windows in which a site or the service granted more than pacing's envelope (`envelopeBytes`: rate × 1 s + one block on small links). */
  capViolations: number;
  /** Downloads that met their window closing: admission makes this 0 when devices keep the budgeted rate. */
  windowInterruptions: number;
  admitted: number;
  /** Devices admitted after the scheduler stopped (an abort crossing): must be 0. */
  admittedAfterStop: number;
  statuses: Partial<Record<ExecutionStatus, number>>;
  events: RolloutEvent[];
}

