/**
 * How the rollouts are made and plugged in. service.ts makes them (`createRollouts`) before the
 * features that use them: the firmware feature's hooks (broker/jobs/firmware.ts) and the jobs
 * feature, which binds them to the job service's actions, runs their start and close, and mounts
 * their routes. Presence and the health ingest's reboots reach them from here.
 */
import type { PresenceEvent } from '../../device-sdk/protocol/schemas.js';
import type { FeatureContext } from '../feature.js';
import type { HealthIngest } from '../health/ingest.js';
import { rateAdmission } from '../jobs/admission.js';
import { afterChange, type JobsContext } from '../jobs/context.js';
import { cancel } from '../jobs/executions.js';
import type { JobService } from '../jobs/service.js';
import { admit } from '../jobs/ticker.js';
import type { ApiPlugin } from '../http/app.js';
import { createSqliteRolloutRepo } from '../store/sqlite/rollouts.js';
import type { RolloutActions } from './events.js';
import { Rollouts } from './rollouts.js';
import { rolloutRoutes } from './routes.js';

/** Cancels in batches: each batch is one group commit. */
const CANCEL_BATCH = 500;

/** The staged rollouts: the scheduler admits the jobs it drives, rate admission the rest. */
export function createRollouts(ctx: FeatureContext, health: Pick<HealthIngest, 'onBoots'>): Rollouts {
  const rollouts = new Rollouts({
    repo: createSqliteRolloutRepo(ctx.store.db, ctx.store.writer),
    presence: ctx.presence,
    publisher: ctx.publisher,
    clock: ctx.clock,
    log: ctx.log.child({ component: 'rollouts' }),
    egressBytesPerSec: ctx.config.egressBytesPerSec,
    defaultMaxPerMinute: ctx.config.jobsMaxPerMinute,
    fallback: rateAdmission({ defaultMaxPerMinute: ctx.config.jobsMaxPerMinute, clock: ctx.clock }),
  });
  const onPresence = (e: PresenceEvent) => {
    if (e.event === 'disconnected') rollouts.deviceDisconnected(e.deviceId);
    else if (e.event === 'stale') rollouts.deviceStale(e.deviceId);
  };
  ctx.presence.on('event', onPresence);
  rollouts.onClose(() => ctx.presence.off('event', onPresence));
  rollouts.onClose(health.onBoots((deviceId, boots) => rollouts.deviceRebooted(deviceId, boots)));
  return rollouts;
}

export function rolloutActions(ctx: JobsContext, service: JobService): RolloutActions {
  return {
    abort: (jobId, reason) => service.abort(jobId, reason),
    async cancel(jobId, deviceIds, details) {
      for (let i = 0; i < deviceIds.length; i += CANCEL_BATCH) {
        await Promise.all(deviceIds.slice(i, i + CANCEL_BATCH).map(async (deviceId) => {
          const now = ctx.clock();
          const { steps } = await ctx.repo.changeExecution(deviceId, { jobId }, (view) => ({
            steps: view.execution?.status === 'QUEUED' ? cancel(view.execution, false, now).map((s) => ({ ...s, statusDetails: { ...s.statusDetails, ...details } })) : [],
          }));
          afterChange(ctx, steps);
        }));
      }
    },
    async admit(jobId) {
      const job = await ctx.repo.getJob(jobId);
      if (job) await admit(ctx, job);
    },
  };
}

/** The jobs routes with the rollouts' own (why one device, site windows). */
export function withRolloutRoutes(jobRoutes: ApiPlugin, rollouts: Rollouts, ctx: FeatureContext, service: JobService, jobs: JobsContext): ApiPlugin {
  const extra = rolloutRoutes({
    rollouts,
    repo: createSqliteRolloutRepo(ctx.store.db, ctx.store.writer),
    getJob: (id) => service.get(id),
    getExecution: (key) => jobs.repo.getExecution(key),
    sites: ctx.store.sites,
    clock: ctx.clock,
  });
  return async (app, api) => {
    await jobRoutes(app, api);
    await extra(app, api);
  };
}
