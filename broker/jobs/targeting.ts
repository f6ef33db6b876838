/**
 * Target resolution against the registry: at creation, for a continuous job's periodic rescan,
 * and for a device that connects. The predicate is `matchesTargets` (targets.ts); the store only
 * narrows candidates. Devices that left a job are marked REMOVED: a deleted device's unfinished
 * executions, so no job waits forever on a device that can never report.
 */
import type { JobsContext } from './context.js';
import { afterChange } from './context.js';
import { remove } from './executions.js';
import type { JobRecord } from './model.js';
import { candidateFilter, matchesTargets, splitCompatible, type TargetDevice } from './targets.js';
import type { DeviceRecord } from '../store/types.js';

const PAGE = 1000;

const asTarget = (ctx: JobsContext, d: DeviceRecord): TargetDevice => ({ ...d, status: ctx.presence.status(d.id, d.firstConnectedAt !== null) });

export async function resolveTargets(ctx: JobsContext, job: Pick<JobRecord, 'targets'>): Promise<TargetDevice[]> {
  const filter = candidateFilter(job.targets);
  const matched: TargetDevice[] = [];
  let afterId: string | undefined;
  for (;;) {
    const page = await ctx.store.devices.list({ ...filter, afterId, limit: PAGE });
    for (const d of page) {
      const t = asTarget(ctx, d);
      if (matchesTargets(t, job.targets)) matched.push(t);
    }
    if (page.length < PAGE) return matched;
    afterId = page.at(-1)!.id;
  }
}

/** Adds the job's newly matching devices; returns how many executions were added. */
async function addDevices(ctx: JobsContext, job: JobRecord, devices: TargetDevice[]): Promise<number> {
  if (devices.length === 0) return 0;
  const { compatible, incompatible } = splitCompatible(devices, job.firmware);
  const added = await ctx.repo.addTargets(job.id, compatible, incompatible, ctx.clock());
  if (added.length > 0) ctx.log.info({ jobId: job.id, added: added.length }, 'continuous job picked up devices');
  return added.length;
}

/** A continuous job's rescan: every matching device it does not know yet. */
export async function pickUpAll(ctx: JobsContext, job: JobRecord): Promise<number> {
  const known = await ctx.repo.knownDevices(job.id);
  const fresh = (await resolveTargets(ctx, job)).filter((d) => !known.has(d.id));
  return addDevices(ctx, job, fresh);
}

/** A device connected: the continuous jobs it matches now. */
export async function pickUpDevice(ctx: JobsContext, deviceId: string, jobs: readonly JobRecord[]): Promise<number> {
  const d = await ctx.store.devices.get(deviceId);
  if (!d) return 0;
  const t = asTarget(ctx, d);
  let added = 0;
  for (const job of jobs) {
    if (job.continuous && matchesTargets(t, job.targets) && !(await ctx.repo.getExecution({ jobId: job.id, deviceId }))) {
      added += await addDevices(ctx, job, [t]);
    }
  }
  return added;
}

/** Unfinished executions of deleted devices → REMOVED. */
export async function removeOrphans(ctx: JobsContext): Promise<void> {
  for (const key of await ctx.repo.orphaned(PAGE)) {
    const { steps } = await ctx.repo.changeExecution(key.deviceId, { jobId: key.jobId }, (view) => ({
      steps: view.execution ? remove(view.execution, { reason: 'DeviceDeleted' }, ctx.clock(), true) : [],
    }));
    afterChange(ctx, steps);
  }
}
