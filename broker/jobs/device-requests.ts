/**
 * What a device asks of the jobs service over MQTT (mqtt.ts parses and replies): its queue, the
 * next execution, one execution, an update, and reconciliation after a restart. Each change is a
 * read-modify-write by the store around a pure function of the core; the reply is built from
 * what was stored, and announcements follow (context.ts).
 */
import type {
  ExecutionReply, ReconcileDecision, ReconcileRequest, StartNextRequest, UpdateRequest,
} from '../../device-sdk/protocol/jobs.js';
import { afterChange, type JobsContext } from './context.js';
import { iso, toJobExecution, toSummary } from './documents.js';
import { deviceUpdate, startNext, visibleToDevice } from './executions.js';
import type { ExecutionRecord } from './model.js';
import { reconcileExecution } from './reconcile.js';
import { checkTransition, executionError, executionStateOf } from './transitions.js';

const token = (clientToken: string | undefined) => (clientToken === undefined ? {} : { clientToken });

export function createDeviceRequests(ctx: JobsContext) {
  const { repo, clock, signer } = ctx;

  async function executionReply(e: ExecutionRecord | undefined, clientToken: string | undefined): Promise<ExecutionReply> {
    const now = clock();
    const job = e && (await repo.getJob(e.jobId));
    return { execution: e && job ? await toJobExecution(e, job, signer, now) : null, timestamp: iso(now), ...token(clientToken) };
  }

  /**
   * `{ status: 'QUEUED', statusDetails: { deferUntil } }` on a notified execution: the device asks a
   * staged rollout to leave it alone until then (busy, on battery). The execution stays as it is;
   * the rollout counts the device as away (`deferred-by-device`). Refused like any other move to
   * QUEUED when no rollout drives the job.
   */
  async function defer(deviceId: string, jobId: string, request: UpdateRequest) {
    const e = await repo.getExecution({ jobId, deviceId });
    if (!visibleToDevice(e)) throw executionError('NotFound', 'no such job execution for this device', undefined);
    const until = Date.parse(String(request.statusDetails?.['deferUntil'] ?? ''));
    if (e.status !== 'QUEUED' || Number.isNaN(until) || !ctx.rollouts?.deferred(jobId, deviceId, until)) checkTransition(e, 'QUEUED', 'device');
    return { executionState: executionStateOf(e), timestamp: iso(clock()), ...token(request.clientToken) };
  }

  return {
    /** `…/jobs/get`: the in-progress execution and the queued ones, in the order they will run. */
    async get(deviceId: string, clientToken?: string) {
      const pending = await repo.pending(deviceId);
      return {
        inProgressJobs: pending.filter((e) => e.status === 'IN_PROGRESS').map(toSummary),
        queuedJobs: pending.filter((e) => e.status === 'QUEUED').map(toSummary),
        timestamp: iso(clock()),
        ...token(clientToken),
      };
    },

    /** `…/jobs/start-next`: the execution to work on, with its document; null when there is none. */
    async startNext(deviceId: string, request: StartNextRequest): Promise<ExecutionReply> {
      const result = await repo.changeExecution(deviceId, 'next', (view) => startNext(view, request, clock()));
      afterChange(ctx, result.steps);
      return executionReply(result.execution, request.clientToken);
    },

    /** `…/jobs/{jobId}/get`. */
    async describe(deviceId: string, jobId: string, clientToken?: string): Promise<ExecutionReply> {
      const e = await repo.getExecution({ jobId, deviceId });
      if (!visibleToDevice(e)) throw executionError('NotFound', `no execution of job ${jobId} for this device`, undefined);
      return executionReply(e, clientToken);
    },

    /** `…/jobs/{jobId}/update`: the reply carries the state the device asked for (a retry follows it). */
    async update(deviceId: string, jobId: string, request: UpdateRequest) {
      if (request.status === 'QUEUED') return defer(deviceId, jobId, request);
      const { steps } = await repo.changeExecution(deviceId, { jobId }, (view) => ({ steps: deviceUpdate(view, request, clock()) }));
      afterChange(ctx, steps);
      return { executionState: executionStateOf(steps[0]!), timestamp: iso(clock()), ...token(request.clientToken) };
    },

    /** `…/jobs/reconcile`: settles the named execution and any unfinished one the running firmware decides. */
    async reconcile(deviceId: string, request: ReconcileRequest) {
      const pending = await repo.pending(deviceId);
      const jobIds = new Set([...(request.jobId === undefined ? [] : [request.jobId]), ...pending.map((e) => e.jobId)]);
      const decisions: ReconcileDecision[] = [];
      for (const jobId of jobIds) {
        const named = jobId === request.jobId;
        const outcome = await repo.changeExecution(deviceId, { jobId }, (view) => ({
          ...reconcileExecution(view, request, named, clock()),
          current: visibleToDevice(view.execution) ? view.execution : undefined,
        }));
        afterChange(ctx, outcome.steps);
        if (!named && outcome.action === 'UNCHANGED') continue;
        const state = outcome.steps[0] ?? outcome.current;
        decisions.push({ jobId, action: outcome.action, reason: outcome.reason, executionState: state ? executionStateOf(state) : null });
      }
      ctx.rollouts?.firmwareRunning(deviceId, request.firmwareVersion);
      return { decisions, timestamp: iso(clock()), ...token(request.clientToken) };
    },
  };
}

export type DeviceRequests = ReturnType<typeof createDeviceRequests>;
