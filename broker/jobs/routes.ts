/**
 * The REST edge of jobs, under /api/v1. Errors are problem+json with the catalogue's codes:
 * NotFound 404, InvalidRequest 400, Conflict 409 (id taken), TerminalState 409 (the job has
 * finished), InvalidStateTransition 409 (e.g. resume a job that is not paused).
 */
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { JsonObject } from '../../device-sdk/protocol/json.js';
import type { ApiPlugin } from '../http/app.js';
import { idParams, pageOf as pageSchema, problemSchema } from '../http/schemas.js';
import {
  cancelBody, createJobBody, createJobQuery, executionSchema, forecastSchema, jobDetailSchema, jobParams, jobSchema, listExecutionsQuery, listJobsQuery,
} from './http-schemas.js';
import type { CreateJobInput, JobService } from './service.js';
import { pageOf, toExecutionView, toJobDetailView, toJobView } from './views.js';

const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema, 409: problemSchema };
const tags = ['jobs'];
const afterSeq = (cursor: string | undefined) => (cursor === undefined ? undefined : Number(cursor));

export function jobRoutes(jobs: JobService): ApiPlugin {
  return async (plain, { guard }) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();

    app.post('/jobs', {
      onRequest: guard('write'),
      schema: {
        tags,
        summary: 'Create a firmware, config or custom job for the devices its targets match (`?dryRun=true`: its rollout forecast instead)',
        body: createJobBody,
        querystring: createJobQuery,
        response: { 201: jobSchema, 200: forecastSchema, ...errors },
      },
    }, async (req, reply) => {
      const input = req.body as CreateJobInput & { config?: JsonObject };
      if (req.query.dryRun) return reply.code(200).send(await jobs.dryRun(input));
      return reply.code(201).send(toJobView(await jobs.create(input)));
    });

    app.get('/jobs', {
      onRequest: guard('read'),
      schema: { tags, summary: 'List jobs, oldest first, by status, type or firmware', querystring: listJobsQuery, response: { 200: pageSchema(jobSchema), ...errors } },
    }, async (req) => {
      const { cursor, ...filter } = req.query;
      return pageOf(await jobs.list({ ...filter, afterSeq: afterSeq(cursor) }), filter.limit, toJobView);
    });

    app.get('/jobs/:id', {
      onRequest: guard('read'),
      schema: { tags, summary: 'A job: definition, status, executions per status, incompatible devices, bytes delivered, pacing', params: jobParams, response: { 200: jobDetailSchema, ...errors } },
    }, async (req) => toJobDetailView(await jobs.detail(req.params.id)));

    app.get('/jobs/:id/executions', {
      onRequest: guard('read'),
      schema: { tags, summary: "A job's executions in queue order, optionally of one status", params: jobParams, querystring: listExecutionsQuery, response: { 200: pageSchema(executionSchema), ...errors } },
    }, async (req) => {
      const { cursor, ...filter } = req.query;
      const items = await jobs.executions(req.params.id, { ...filter, afterSeq: afterSeq(cursor) });
      const reasons = await jobs.reasons(req.params.id, items);
      return pageOf(items, filter.limit, (e) => toExecutionView(e, reasons === undefined ? undefined : (reasons.get(e.deviceId) ?? null)));
    });

    app.get('/devices/:id/jobs', {
      onRequest: guard('read'),
      schema: { tags, summary: "A device's job executions in queue order", params: idParams, querystring: listExecutionsQuery, response: { 200: pageSchema(executionSchema), ...errors } },
    }, async (req) => {
      const { cursor, ...filter } = req.query;
      return pageOf(await jobs.deviceExecutions(req.params.id, { ...filter, afterSeq: afterSeq(cursor) }), filter.limit, (e) => toExecutionView(e));
    });

    app.post('/jobs/:id/cancel', {
      onRequest: guard('write'),
      schema: { tags, summary: 'Cancel: queued executions now, in-progress ones too with force', params: jobParams, body: cancelBody, response: { 200: jobSchema, ...errors } },
    }, async (req) => toJobView(await jobs.cancel(req.params.id, req.body)));

    app.post('/jobs/:id/pause', {
      onRequest: guard('write'),
      schema: { tags, summary: 'Stop admitting devices; what was admitted may still run', params: jobParams, response: { 200: jobSchema, ...errors } },
    }, async (req) => toJobView(await jobs.pause(req.params.id)));

    app.post('/jobs/:id/resume', {
      onRequest: guard('write'),
      schema: { tags, summary: 'Admit devices again', params: jobParams, response: { 200: jobSchema, ...errors } },
    }, async (req) => toJobView(await jobs.resume(req.params.id)));
  };
}
