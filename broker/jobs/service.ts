/**
 * What operators do with jobs (routes.ts is the REST edge): create one for the devices its
 * targets match, read it with its counts, list executions, and cancel, pause or resume it.
 * Creation stores every execution waiting for admission, then asks the admission policy at once,
 * so the first devices hear of the job without waiting for a tick.
 */
import { randomUUID } from 'node:crypto';
import { BatonError } from '../../device-sdk/protocol/errors.js';
import type { ExecutionStatus, JobType } from '../../device-sdk/protocol/jobs.js';
import { CONFIG_MAX_BYTES } from '../../device-sdk/protocol/jobs.js';
import type { JsonObject } from '../../device-sdk/protocol/json.js';
import { jobChanged, type JobsContext } from './context.js';
import { cancel } from './executions.js';
import type { ExecutionRecord, FirmwareTarget, JobDefinition, JobRecord, JobTargets, RetryPolicy } from './model.js';
import type { ExecutionListFilter, JobListFilter } from './repo.js';
import { applyJobAction, isJobTerminal, rollupStatus, type JobAction } from './rollup.js';
import { hasSelector, splitCompatible } from './targets.js';
import { resolveTargets } from './targeting.js';
import { admit } from './ticker.js';

export interface CreateJobInput {
  id?: string | undefined;
  type: JobType;
  firmwareId?: string | undefined;
  config?: JsonObject | undefined;
  document?: JsonObject | undefined;
  targets: JobTargets;
  continuous?: boolean | undefined;
  timeouts?: { inProgressS?: number | undefined } | undefined;
  retries?: RetryPolicy[] | undefined;
  rollout?: JsonObject | undefined;
  abort?: JsonObject | undefined;
  schedule?: JsonObject | undefined;
  description?: string | undefined;
}

const invalid = (field: string, message: string) => new BatonError('InvalidRequest', message, { fields: { [`body.${field}`]: message } });

/** Each type carries exactly its own payload: a firmwareId, a config, or a document. */
async function payloadOf(ctx: JobsContext, input: CreateJobInput): Promise<Pick<JobDefinition, 'firmware' | 'config' | 'document'>> {
  const stray = (['firmwareId', 'config', 'document'] as const).filter((k) => input[k] !== undefined);
  const own = { firmware: 'firmwareId', config: 'config', custom: 'document' }[input.type];
  if (!stray.includes(own as never)) throw invalid(own, `a ${input.type} job needs ${own}`);
  const other = stray.find((k) => k !== own);
  if (other) throw invalid(other, `a ${input.type} job takes no ${other}`);
  if (input.type === 'config' && Buffer.byteLength(JSON.stringify(input.config)) > CONFIG_MAX_BYTES) {
    throw invalid('config', `config must be at most ${CONFIG_MAX_BYTES} bytes of JSON`);
  }
  let firmware: FirmwareTarget | null = null;
  if (input.type === 'firmware') {
    firmware = (await ctx.firmware.get(input.firmwareId!)) ?? null;
    if (!firmware) throw invalid('firmwareId', `firmware ${input.firmwareId} does not exist`);
  }
  return { firmware, config: input.config ?? null, document: input.document ?? null };
}

export function createJobService(ctx: JobsContext) {
  const { repo, clock } = ctx;

  /** What the operator asked for, checked: targets that select something, the payload of the type. */
  async function definitionOf(input: CreateJobInput): Promise<JobDefinition> {
    if (!hasSelector(input.targets)) throw invalid('targets', 'name at least one of devices, tags, deviceClass, sites, query');
    const definition: JobDefinition = {
      id: input.id ?? randomUUID(),
      type: input.type,
      ...(await payloadOf(ctx, input)),
      targets: input.targets,
      continuous: input.continuous ?? false,
      timeouts: input.timeouts ?? {},
      retries: input.retries ?? [],
      rollout: input.rollout ?? null,
      abort: input.abort ?? null,
      schedule: input.schedule ?? null,
      description: input.description ?? null,
    };
    ctx.rollouts?.validate(definition);
    return definition;
  }

  async function mustGet(id: string): Promise<JobRecord> {
    const job = await repo.getJob(id);
    if (!job) throw new BatonError('NotFound', `job ${id} does not exist`);
    return job;
  }

  /** Which executions an action stops: queued ones on cancel and abort, in-progress ones too when forced. */
  const stops = (action: JobAction, force: boolean, now: number) =>
    action === 'cancel' || action === 'forceCancel' || action === 'abort'
      ? { statuses: force ? (['QUEUED', 'IN_PROGRESS'] as const) : (['QUEUED'] as const), each: (e: ExecutionRecord) => cancel(e, force, now) }
      : undefined;

  async function act(id: string, action: JobAction, reason?: string, force = action === 'forceCancel'): Promise<JobRecord> {
    const now = clock();
    const change = await repo.changeJob(id, (job, pending) => applyJobAction(job, action, pending, now, reason), stops(action, force, now));
    for (const steps of change.executions) {
      ctx.rollouts?.executionChanged(steps);
      ctx.notifier.executionChanged(steps);
    }
    jobChanged(ctx, change.before, change.job);
    if (action === 'resume') await admit(ctx, change.job);
    return change.job;
  }

  return {
    async create(input: CreateJobInput): Promise<JobRecord> {
      const definition = await definitionOf(input);
      const now = clock();
      const { compatible, incompatible } = splitCompatible(await resolveTargets(ctx, definition), definition.firmware);
      const draft: JobRecord = { ...definition, seq: 0, status: 'IN_PROGRESS', reason: null, forceCanceled: false, createdAt: now, updatedAt: now, completedAt: null };
      const status = rollupStatus(draft, compatible.length > 0, now);
      const { seq: _unassigned, ...record } = { ...draft, status, completedAt: isJobTerminal(status) ? now : null };
      const job = await repo.create(record, compatible, incompatible);
      ctx.notifier.jobChanged(undefined, job);
      await admit(ctx, job);
      return job;
    },

    /** `POST /jobs?dryRun=true`: the rollout's forecast (waves, bytes per site, completion time); nothing is created. */
    async dryRun(input: CreateJobInput) {
      const definition = await definitionOf(input);
      const { compatible, incompatible } = splitCompatible(await resolveTargets(ctx, definition), definition.firmware);
      if (!ctx.rollouts) throw new BatonError('InvalidRequest', 'dry runs need the rollout scheduler');
      return { ...ctx.rollouts.forecast(definition, compatible), targets: compatible.length, incompatible: incompatible.length };
    },

    get: mustGet,
    list: (filter: JobListFilter) => repo.listJobs(filter),

    /** The job with what `GET /jobs/{id}` shows beside its definition. */
    async detail(id: string) {
      const job = await mustGet(id);
      const [counts, incompatible, bytesDelivered] = await Promise.all([repo.counts(id), repo.exclusions(id, 100), repo.bytesDelivered(id)]);
      return { job, counts, incompatible, bytesDelivered, pacing: ctx.admission.describe(job) };
    },

    async executions(id: string, filter: ExecutionListFilter) {
      await mustGet(id);
      return repo.listExecutions(id, filter);
    },

    /** Why each of these executions' devices has not updated (rollout jobs); undefined: the default reasons. */
    async reasons(id: string, executions: readonly ExecutionRecord[]) {
      return ctx.rollouts?.reasons(await mustGet(id), executions);
    },

    async deviceExecutions(deviceId: string, filter: ExecutionListFilter & { status?: ExecutionStatus | undefined }) {
      if (!(await ctx.store.devices.get(deviceId))) throw new BatonError('NotFound', `device ${deviceId} does not exist`);
      return repo.deviceExecutions(deviceId, filter);
    },

    cancel: (id: string, options: { force?: boolean | undefined; reason?: string | undefined }) => act(id, options.force ? 'forceCancel' : 'cancel', options.reason),
    pause: (id: string) => act(id, 'pause'),
    resume: (id: string) => act(id, 'resume'),
    /** For the rollout scheduler: ABORTED, queued executions canceled, in-progress ones too per `abort.inProgress`. */
    abort: async (id: string, reason: string) => act(id, 'abort', reason, (await mustGet(id)).abort?.['inProgress'] === 'cancel'),
  };
}

export type JobService = ReturnType<typeof createJobService>;
