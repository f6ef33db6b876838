/**
 * The parts every jobs module shares, and what follows any execution change: announce each state,
 * then let the job's status follow (a job that is not continuous completes with its last execution).
 */
import type { Logger } from 'pino';
import { isTerminal } from '../../device-sdk/protocol/jobs.js';
import type { PresenceTracker } from '../presence/tracker.js';
import type { Store } from '../store/types.js';
import type { AdmissionPolicy, RolloutHooks } from './admission.js';
import type { ConfigSigner } from './config-envelope.js';
import type { Steps } from './executions.js';
import type { FirmwareCatalog } from './firmware.js';
import type { JobRecord } from './model.js';
import type { Notifier } from './notifier.js';
import type { JobRepo } from './repo.js';
import { isJobTerminal, rollupStatus } from './rollup.js';

export interface JobsContext {
  repo: JobRepo;
  /** The device registry's store, for target resolution. */
  store: Pick<Store, 'devices'>;
  presence: PresenceTracker;
  notifier: Notifier;
  admission: AdmissionPolicy;
  /** The rollout scheduler's side of every change (broker/rollouts); absent, jobs run without it. */
  rollouts?: RolloutHooks | undefined;
  signer: ConfigSigner;
  firmware: FirmwareCatalog;
  clock: () => number;
  log: Logger;
}

/** A job changed status: announce it; a finished job needs no admission state. */
export function jobChanged(ctx: JobsContext, before: JobRecord, job: JobRecord): void {
  if (before === job) return;
  ctx.notifier.jobChanged(before, job);
  if (isJobTerminal(job.status)) ctx.admission.forget(job.id);
}

/** Re-derives the job's status from its executions and schedule (operator states stay). */
export async function rollup(ctx: JobsContext, jobId: string): Promise<JobRecord> {
  const now = ctx.clock();
  const { before, job } = await ctx.repo.changeJob(jobId, (j, pending) => {
    const status = rollupStatus(j, pending, now);
    return status === j.status ? j : { ...j, status, updatedAt: now, completedAt: isJobTerminal(status) ? now : j.completedAt };
  });
  jobChanged(ctx, before, job);
  return job;
}

/** After an execution change is durable. */
export function afterChange(ctx: JobsContext, steps: Steps): void {
  if (steps.length === 0) return;
  ctx.rollouts?.executionChanged(steps);
  ctx.notifier.executionChanged(steps);
  const last = steps.at(-1)!;
  if (isTerminal(last.status)) rollup(ctx, last.jobId).catch((err: unknown) => ctx.log.error({ err, jobId: last.jobId }, 'job rollup failed'));
}
