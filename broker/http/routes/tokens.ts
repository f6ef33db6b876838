import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { createTokenBody, idParams, problemSchema, tokenSchema } from '../schemas.js';

const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema };

/** API tokens: admin only. */
export const tokenRoutes: FastifyPluginAsyncZod<ApiContext> = async (app, { tokens, guard, connections }) => {
  app.post('/tokens', {
    onRequest: guard('admin'),
    schema: { tags: ['tokens'], summary: 'Create an API token; the secret is returned once', body: createTokenBody, response: { 201: tokenSchema.extend({ token: z.string() }), ...errors } },
  }, async (req, reply) => {
    const { token, secret } = await tokens.create(req.body.name, req.body.role);
    return reply.code(201).send({ ...token, token: secret });
  });

  app.get('/tokens', {
    onRequest: guard('admin'),
    schema: { tags: ['tokens'], summary: 'List API tokens (never their secrets)', response: { 200: z.object({ items: z.array(tokenSchema) }), ...errors } },
  }, async () => ({ items: await tokens.list() }));

  app.delete('/tokens/:id', {
    onRequest: guard('admin'),
    schema: { tags: ['tokens'], summary: 'Revoke an API token; MQTT sessions that logged in with it are closed at once', params: idParams, response: { 204: z.null(), ...errors } },
  }, async (req, reply) => {
    await tokens.delete(req.params.id);
    connections.disconnectCredential({ kind: 'token', tokenId: req.params.id });
    return reply.code(204).send(null);
  });
};
