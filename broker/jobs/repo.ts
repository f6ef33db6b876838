/**
 * What the jobs service needs from a store. Async, so a PostgreSQL store can implement it as well
 * as the SQLite one (`broker/store/sqlite/jobs.ts`). Every change is a read-modify-write done
 * atomically by the store around a pure function from the core, and resolves once durable.
 */
import type { ExecutionStatus, JobStatus, JobType } from '../../device-sdk/protocol/jobs.js';
import type { DeviceView, Steps } from './executions.js';
import type { ExecutionCounts, ExecutionKey, ExecutionRecord, Exclusion, JobRecord } from './model.js';

export interface JobListFilter {
  status?: JobStatus | undefined;
  type?: JobType | undefined;
  firmwareId?: string | undefined;
  /** Jobs created after this one (cursor pagination by creation order). */
  afterSeq?: number | undefined;
  limit: number;
}

export interface ExecutionListFilter {
  status?: ExecutionStatus | undefined;
  afterSeq?: number | undefined;
  limit: number;
}

/** Which execution of a device a change is about: a job id, or its next pending one (in progress, else first queued). */
export type ExecutionSelector = { jobId: string } | 'next';

export interface JobChange {
  before: JobRecord;
  job: JobRecord;
  /** Executions changed with the job, each as the states it went through. */
  executions: Steps[];
}

export interface JobRepo {
  /** Stores a new job (`seq` assigned) with a waiting execution per device and its exclusions. Conflict if the id exists. */
  create(job: Omit<JobRecord, 'seq'>, deviceIds: readonly string[], exclusions: readonly Exclusion[]): Promise<JobRecord>;
  getJob(id: string): Promise<JobRecord | undefined>;
  listJobs(filter: JobListFilter): Promise<JobRecord[]>;
  /** Jobs not finished (SCHEDULED, IN_PROGRESS, PAUSED), in creation order. */
  activeJobs(): Promise<JobRecord[]>;
  counts(jobId: string): Promise<ExecutionCounts>;
  bytesDelivered(jobId: string): Promise<number>;
  exclusions(jobId: string, limit: number): Promise<{ total: number; items: Exclusion[] }>;
  /** Device ids the job already has an execution or an exclusion for. */
  knownDevices(jobId: string): Promise<Set<string>>;
  /** Device ids of the job's executions in `status` (a continuous job's rescan compares them with its targets). */
  devicesIn(jobId: string, status: ExecutionStatus): Promise<string[]>;
  /** Adds waiting executions and exclusions for devices the job does not know yet; returns the devices added. */
  addTargets(jobId: string, deviceIds: readonly string[], exclusions: readonly Exclusion[], now: number): Promise<string[]>;

  getExecution(key: ExecutionKey): Promise<ExecutionRecord | undefined>;
  listExecutions(jobId: string, filter: ExecutionListFilter): Promise<ExecutionRecord[]>;
  deviceExecutions(deviceId: string, filter: ExecutionListFilter): Promise<ExecutionRecord[]>;
  /** The device's admitted, unfinished executions: the in-progress one first, then queue order. */
  pending(deviceId: string): Promise<ExecutionRecord[]>;
  waiting(jobId: string, limit: number): Promise<ExecutionRecord[]>;
  /** Admits those of `deviceIds` still waiting; returns them as admitted. */
  admit(jobId: string, deviceIds: readonly string[], now: number): Promise<ExecutionRecord[]>;
  /** In-progress executions whose earlier timer is at or before `now`. */
  expired(now: number, limit: number): Promise<ExecutionKey[]>;
  /** Unfinished executions whose device no longer exists. */
  orphaned(limit: number): Promise<ExecutionKey[]>;

  /**
   * Read-modify-write of one execution: `change` (pure; it may throw, and then nothing is written)
   * gets the view and returns the states to go through; the last is stored.
   */
  changeExecution<T extends { steps: Steps }>(deviceId: string, select: ExecutionSelector, change: (view: DeviceView) => T): Promise<T>;
  /**
   * Read-modify-write of a job, and of its executions in `statuses` (each through `each`), at once.
   * `pending`: the job has queued or in-progress executions (before this change).
   */
  changeJob(
    jobId: string,
    change: (job: JobRecord, pending: boolean) => JobRecord,
    executions?: { statuses: readonly ExecutionStatus[]; each: (e: ExecutionRecord, job: JobRecord) => Steps },
  ): Promise<JobChange>;

  /** Firmware bytes streamed to a device, added to its unfinished execution of a job for that firmware. */
  addBytesDelivered(deviceId: string, firmwareId: string, bytes: number): Promise<void>;
  /** A job not finished references the firmware. */
  firmwareInUse(firmwareId: string): Promise<boolean>;
  /** The device has an admitted, unfinished execution of a job for the firmware. */
  hasActiveFirmwareExecution(deviceId: string, firmwareId: string): Promise<boolean>;
}
