/**
 * The MQTT edge of jobs: a device publishes `devices/{id}/jobs/get`, `start-next`, `reconcile`,
 * `{jobId}/get` or `{jobId}/update` and is answered on `…/accepted` or `…/rejected` at QoS 1
 * (AWS IoT Jobs' shape). A rejection carries `{ code, message, executionState, clientToken }` and
 * keeps the connection up. The ACL has already checked that `{id}` is the publisher's own id, so
 * a device can never read or touch another device's executions.
 */
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { z } from 'zod';
import { BatonError } from '../../device-sdk/protocol/errors.js';
import {
  describeRequestSchema, jobsGetRequestSchema, reconcileRequestSchema, startNextRequestSchema, updateRequestSchema, type JobRejected,
} from '../../device-sdk/protocol/jobs.js';
import { FREE_FORM_MAX_DEPTH, jsonDepth, parseJsonObject } from '../../device-sdk/protocol/json.js';
import { issueFields } from '../../device-sdk/protocol/validation.js';
import { topics } from '../../device-sdk/protocol/topics.js';
import type { InboundHandler, InboundRouter } from '../mqtt/inbound.js';
import { requestReplyHandler } from '../mqtt/request-reply.js';
import type { Publisher } from '../mqtt/publisher.js';
import { withClientTokenAsync } from '../mqtt/request-reply.js';
import type { DeviceRequests } from './device-requests.js';
import { iso } from './documents.js';

/** Requests are small (statusDetails ≤ 1 KiB); anything larger is refused before parsing. */
export const MAX_JOB_REQUEST_BYTES = 8 * 1024;

export interface JobsInboundDeps {
  requests: DeviceRequests;
  publisher: Publisher;
  clock: () => number;
  registry: Registry;
  log: Logger;
}

/** Parses a request; a failure keeps the request's clientToken (if any) so the rejection can echo it. */
function parseRequest<T>(schema: z.ZodType<T>, payload: Buffer): T {
  const raw = payload.length === 0 ? {} : parseJsonObject(payload, MAX_JOB_REQUEST_BYTES);
  const clientToken = typeof raw['clientToken'] === 'string' ? raw['clientToken'].slice(0, 64) : undefined;
  // Before zod, whose z.json() recurses: statusDetails (one level down) is the only free-form field.
  if (jsonDepth(raw) > FREE_FORM_MAX_DEPTH + 1) {
    throw new BatonError('TooDeep', `statusDetails may nest at most ${FREE_FORM_MAX_DEPTH} levels`, { clientToken });
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throw new BatonError('InvalidRequest', 'the request does not match its schema', { fields: issueFields(result.error), clientToken });
}

/** `{ code, message, executionState, clientToken }`; the state and token travel in the error's details. */
export function toJobRejected(err: BatonError, now: number): JobRejected {
  const state = err.details?.['executionState'] as JobRejected['executionState'] | undefined;
  const token = err.details?.['clientToken'] as string | undefined;
  return { code: err.code, message: err.message, executionState: state ?? null, timestamp: iso(now), ...(token === undefined ? {} : { clientToken: token }) };
}

type Serve = (deviceId: string, payload: Buffer, jobId: string) => Promise<object>;

export function registerJobsInbound(router: InboundRouter, deps: JobsInboundDeps): void {
  const { requests: r, publisher, log } = deps;
  const counter = new Counter({
    name: 'baton_job_requests_total',
    help: 'Job requests from devices over MQTT, by operation and outcome (accepted, or the error code).',
    labelNames: ['op', 'outcome'],
    registers: [deps.registry],
  });

  /** Parses, then runs; a rejection of a parsed request echoes its clientToken. */
  const serve = <T extends { clientToken?: string | undefined }>(schema: z.ZodType<T>, work: (req: T, deviceId: string, jobId: string) => Promise<object>): Serve =>
    (deviceId, payload, jobId) => {
      const req = parseRequest(schema, payload);
      return withClientTokenAsync(req.clientToken, () => work(req, deviceId, jobId));
    };
  const operations: Record<string, Serve> = {
    get: serve(jobsGetRequestSchema, (req, d) => r.get(d, req.clientToken)),
    'start-next': serve(startNextRequestSchema, (req, d) => r.startNext(d, req)),
    reconcile: serve(reconcileRequestSchema, (req, d) => r.reconcile(d, req)),
    'job/get': serve(describeRequestSchema, (req, d, jobId) => r.describe(d, jobId, req.clientToken)),
    'job/update': serve(updateRequestSchema, (req, d, jobId) => r.update(d, jobId, req)),
  };

  const handler = (op: string, run: Serve): InboundHandler =>
    requestReplyHandler(
      {
        route: ({ principal, topic }) => {
          if (principal.kind !== 'device') return undefined;
          const { deviceId } = principal;
          const jobId = topic.params['jobId'] ?? '';
          return { topic: topics.jobs(deviceId, op.startsWith('job/') ? `${jobId}/${op.slice(4)}` : op), deviceId, jobId };
        },
        serve: async ({ deviceId, jobId }, { payload }, accept) => accept(await run(deviceId, payload, jobId)),
        rejected: (err) => toJobRejected(err, deps.clock()),
        onOutcome: (outcome) => counter.inc({ op, outcome }),
      },
      { publisher, log },
    );

  for (const [op, serve] of Object.entries(operations)) router.on(`jobs/${op}`, handler(op, serve));
}
