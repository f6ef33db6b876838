/**
 * The jobs service's clockwork, one named step at a time, on each tick (`BATON_JOBS_TICK_MS`):
 * time out executions whose timer passed, start scheduled jobs whose time came, admit what the
 * admission policy lets through, and every `rescanEvery` ticks remove executions of deleted
 * devices, then follow continuous jobs' targets (devices that came to match join, queued ones that
 * stopped matching are removed). "Now" is the injected clock, so tests move time and wait for a tick.
 */
import { afterChange, rollup, type JobsContext } from './context.js';
import { timeOut } from './executions.js';
import type { JobRecord } from './model.js';
import { removeOrphans, rescan } from './targeting.js';

const EXPIRE_BATCH = 1000;

async function expireTimers(ctx: JobsContext): Promise<void> {
  for (const key of await ctx.repo.expired(ctx.clock(), EXPIRE_BATCH)) {
    const { steps } = await ctx.repo.changeExecution(key.deviceId, { jobId: key.jobId }, (view) => ({
      steps: view.execution && view.job ? timeOut(view.execution, view.job, ctx.clock()) : [],
    }));
    afterChange(ctx, steps);
  }
}

/** Asks the admission policy which waiting executions of a running job to admit, and admits them. */
export async function admit(ctx: JobsContext, job: JobRecord): Promise<number> {
  // A cheap probe on the waiting index first: most ticks of a long job have nothing to admit
  // (the rollout scheduler ticks its jobs anyway: soaks end, schedules end, state is saved).
  if (job.status !== 'IN_PROGRESS') return 0;
  if (!ctx.admission.needsTicks?.(job) && (await ctx.repo.waiting(job.id, 1)).length === 0) return 0;
  const counts = await ctx.repo.counts(job.id);
  const now = ctx.clock();
  const ids = await ctx.admission.decide({ job, now, counts, waiting: (n) => ctx.repo.waiting(job.id, n) });
  if (ids.length === 0) return 0;
  const admitted = await ctx.repo.admit(job.id, ids, now);
  for (const e of admitted) ctx.notifier.deviceChanged(e.deviceId);
  return admitted.length;
}

export function createTicker(ctx: JobsContext, options: { rescanEvery: number }) {
  let ticks = 0;
  let running: Promise<void> | undefined;

  async function step(): Promise<void> {
    await expireTimers(ctx);
    const rescanning = ticks++ % options.rescanEvery === 0;
    // Deleted devices first, so the rescan below sees them gone (`DeviceDeleted`, not `LeftTargets`).
    if (rescanning) await removeOrphans(ctx);
    for (let job of await ctx.repo.activeJobs()) {
      if (job.status === 'SCHEDULED') job = await rollup(ctx, job.id);
      if (rescanning && job.continuous && (await rescan(ctx, job)).added > 0) job = await rollup(ctx, job.id);
      await admit(ctx, job);
    }
  }

  return {
    /** One tick; a tick still running is not overlapped (the next one is skipped). */
    tick(): Promise<void> {
      running ??= step()
        .catch((err: unknown) => ctx.log.error({ err }, 'jobs tick failed'))
        .finally(() => (running = undefined));
      return running;
    },
    idle: () => running ?? Promise.resolve(),
  };
}
