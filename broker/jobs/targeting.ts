/**
 * Target resolution against the registry: at creation, for a continuous job's periodic rescan,
 * and for a device that connects. The predicate is `matchesTargets` (targets.ts); the store only
 * narrows candidates. Devices that left a job are marked REMOVED:
 * - a deleted device's unfinished executions (in progress too), so no job waits forever on a
 *   device that can never report;
 * - a continuous job's queued executions (admitted or still waiting) of a device that no longer
 *   matches its targets (re-tagged, moved to another site or class). One already in progress is
 *   left to finish: the device may be halfway through flashing, and stopping it is the operator's
 *   call (a forced cancel), not a side effect of editing a tag.
 */
import type { JobsContext } from './context.js';
import { afterChange } from './context.js';
import { rejoin, remove, type Steps } from './executions.js';
import type { ExecutionRecord, JobRecord } from './model.js';
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

/** `statusDetails.reason` of an execution removed because its device stopped matching the job's targets. */
export const LEFT_TARGETS = 'LeftTargets';

/** One execution of the job changed by `change` (pure), announced once durable; true if it changed. */
async function changeOne(ctx: JobsContext, jobId: string, deviceId: string, change: (e: ExecutionRecord, now: number) => Steps): Promise<boolean> {
  const { steps } = await ctx.repo.changeExecution(deviceId, { jobId }, (view) => ({ steps: view.execution ? change(view.execution, ctx.clock()) : [] }));
  afterChange(ctx, steps);
  return steps.length > 0;
}

const leave = (e: ExecutionRecord, now: number) => remove(e, { reason: LEFT_TARGETS }, now);
const comeBack = (e: ExecutionRecord, now: number) => rejoin(e, LEFT_TARGETS, now);

/**
 * A continuous job's rescan against the registry: devices it does not know yet are added, queued
 * executions of devices that stopped matching are removed, and devices removed that way that
 * match again come back. `added` counts both kinds of newcomer (they wait for admission).
 */
export async function rescan(ctx: JobsContext, job: JobRecord): Promise<{ added: number; removed: number }> {
  const known = await ctx.repo.knownDevices(job.id);
  const matching = await resolveTargets(ctx, job);
  const matchingIds = new Set(matching.map((d) => d.id));
  let removed = 0;
  let added = 0;
  for (const deviceId of await ctx.repo.devicesIn(job.id, 'QUEUED')) {
    if (!matchingIds.has(deviceId) && (await changeOne(ctx, job.id, deviceId, leave))) removed++;
  }
  for (const deviceId of await ctx.repo.devicesIn(job.id, 'REMOVED')) {
    if (matchingIds.has(deviceId) && (await changeOne(ctx, job.id, deviceId, comeBack))) added++;
  }
  if (removed > 0) ctx.log.info({ jobId: job.id, removed }, 'continuous job removed devices that left its targets');
  added += await addDevices(ctx, job, matching.filter((d) => !known.has(d.id)));
  return { added, removed };
}

/**
 * A device connected: before its queue is sent, it joins (or comes back to) the continuous jobs it
 * matches now and leaves the queued ones it no longer matches. Returns the jobs it joined.
 */
export async function followDevice(ctx: JobsContext, deviceId: string, jobs: readonly JobRecord[]): Promise<JobRecord[]> {
  const d = await ctx.store.devices.get(deviceId);
  if (!d) return [];
  const t = asTarget(ctx, d);
  const joined: JobRecord[] = [];
  for (const job of jobs.filter((j) => j.continuous)) {
    const e = await ctx.repo.getExecution({ jobId: job.id, deviceId });
    if (!matchesTargets(t, job.targets)) {
      if (e) await changeOne(ctx, job.id, deviceId, leave);
    } else if (e ? await changeOne(ctx, job.id, deviceId, comeBack) : (await addDevices(ctx, job, [t])) > 0) {
      joined.push(job);
    }
  }
  return joined;
}

/** Unfinished executions of deleted devices → REMOVED. */
export async function removeOrphans(ctx: JobsContext): Promise<void> {
  for (const key of await ctx.repo.orphaned(PAGE)) {
    await changeOne(ctx, key.jobId, key.deviceId, (e, now) => remove(e, { reason: 'DeviceDeleted' }, now, true));
  }
}
