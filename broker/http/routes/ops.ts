import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.js';

/** Unauthenticated operational endpoints, for load balancers and Prometheus. */
export const opsRoutes: FastifyPluginAsyncZod<ApiContext> = async (app, { ready, metrics }) => {
  app.get('/healthz', {
    schema: {
      tags: ['ops'],
      summary: '200 when every listener is up and the store is open, else 503',
      response: { 200: z.object({ status: z.literal('ok') }), 503: z.object({ status: z.literal('unavailable') }) },
    },
  }, async (_req, reply) => (ready() ? { status: 'ok' as const } : reply.code(503).send({ status: 'unavailable' as const })));

  app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics', hide: false } }, async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
