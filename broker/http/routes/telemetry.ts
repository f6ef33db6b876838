import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { healthRecordSchema, idParams, problemSchema, telemetryQuery, telemetryRecordSchema } from '../schemas.js';

const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema };

export const telemetryRoutes: FastifyPluginAsyncZod<ApiContext> = async (app, { store, registry, guard }) => {
  app.get('/devices/:id/telemetry', {
    onRequest: guard('read'),
    schema: {
      tags: ['telemetry'],
      summary: 'Stored telemetry, newest first; `from`/`to` take ISO 8601 or epoch ms',
      params: idParams,
      querystring: telemetryQuery,
      response: { 200: z.object({ items: z.array(telemetryRecordSchema), nextCursor: z.string().nullable() }), ...errors },
    },
  }, async (req) => {
    const device = await registry.get(req.params.id);
    const { stream, from, to, limit, cursor } = req.query;
    const rows = await store.telemetry.query({
      deviceId: device.id, stream, fromMs: from, toMs: to, limit: limit + 1, beforeId: cursor === undefined ? undefined : Number(cursor),
    });
    const items = rows.slice(0, limit).map(({ id, stream: s, receivedAt, data }) => ({ id, stream: s, receivedAt, data }));
    return { items, nextCursor: rows.length > limit ? String(items.at(-1)!.id) : null };
  });

  app.get('/devices/:id/health', {
    onRequest: guard('read'),
    schema: {
      tags: ['telemetry'],
      summary: 'Health report history, newest first',
      params: idParams,
      querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
      response: { 200: z.object({ items: z.array(healthRecordSchema) }), ...errors },
    },
  }, async (req) => {
    const device = await registry.get(req.params.id);
    return { items: await store.health.history(device.id, req.query.limit) };
  });
};
