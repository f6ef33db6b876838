/**
 * The records of the jobs service: what the store persists and the pure core reasons about.
 * Times are epoch milliseconds (the injected clock's unit); the edges render ISO 8601.
 */
import type { ExecutionStatus, JobStatus, JobType, Progress } from '../../device-sdk/protocol/jobs.js';
import type { JsonObject } from '../../device-sdk/protocol/json.js';
import type { DeviceStatus } from '../../device-sdk/protocol/schemas.js';

/** Which devices a job is for. Every selector given must match; a list matches any of its items. */
export interface JobTargets {
  devices?: string[] | undefined;
  tags?: string[] | undefined;
  deviceClass?: string | undefined;
  sites?: string[] | undefined;
  /** A device filter as in `GET /devices`. */
  query?: { tag?: string | undefined; deviceClass?: string | undefined; site?: string | undefined; status?: DeviceStatus | undefined } | undefined;
}

export type FailureType = 'FAILED' | 'TIMED_OUT';
export interface RetryPolicy {
  failureType: FailureType;
  /** Attempts in all, the first included. */
  maxAttempts: number;
}

/** The firmware a firmware job installs, as the catalogue described it when the job was created. */
export interface FirmwareTarget {
  id: string;
  deviceClass: string;
  version: string;
  size: number;
  manifest?: string | undefined;
}

/** What an operator asked for: fixed at creation. `rollout`, `abort`, `schedule` belong to the scheduler. */
export interface JobDefinition {
  id: string;
  type: JobType;
  firmware: FirmwareTarget | null;
  config: JsonObject | null;
  document: JsonObject | null;
  targets: JobTargets;
  continuous: boolean;
  timeouts: { inProgressS?: number | undefined };
  retries: RetryPolicy[];
  rollout: JsonObject | null;
  abort: JsonObject | null;
  schedule: JsonObject | null;
  description: string | null;
}

export interface JobRecord extends JobDefinition {
  /** Creation order; queued executions of one device run in this order. */
  seq: number;
  status: JobStatus;
  /** Why it was canceled or aborted, as the operator said. */
  reason: string | null;
  /** A forced cancel also canceled in-progress executions. */
  forceCanceled: boolean;
  createdAt: number;
  updatedAt: number;
  completedAt: number | null;
}

export interface ExecutionKey {
  jobId: string;
  deviceId: string;
}

export interface ExecutionRecord extends ExecutionKey {
  /** Queue order across the whole store (creation order). */
  seq: number;
  status: ExecutionStatus;
  versionNumber: number;
  /** 1 for the first attempt, one more at each retry (AWS `executionNumber`). */
  attempt: number;
  statusDetails: JsonObject | null;
  progress: Progress | null;
  queuedAt: number;
  startedAt: number | null;
  updatedAt: number;
  completedAt: number | null;
  /** When the scheduler let the device see it; null while it waits for admission. */
  admittedAt: number | null;
  /** Step timer and in-progress timer; either passing makes the execution TIMED_OUT. */
  stepDeadline: number | null;
  inProgressDeadline: number | null;
  /** Firmware bytes the broker streamed to the device for this execution (the firmware feature reports them). */
  bytesDelivered: number;
}

/** A device the job matched but cannot run on (a firmware job's other device classes). */
export interface Exclusion {
  deviceId: string;
  reason: 'incompatible';
  deviceClass: string | null;
}

/** Executions per status, with the queued ones still waiting for admission counted apart as well. */
export type ExecutionCounts = Record<ExecutionStatus, number> & { waiting: number };
