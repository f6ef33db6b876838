import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BatonError } from '../../../device-sdk/protocol/index.js';
import type { ApiContext } from '../context.js';
import { idParams, patchSiteBody, problemSchema, siteBody, siteSchema } from '../schemas.js';

const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema, 409: problemSchema };

/** Sites: network locations behind one uplink; rollouts pace firmware to `uplinkBytesPerSec`. */
export const siteRoutes: FastifyPluginAsyncZod<ApiContext> = async (app, { store, guard }) => {
  const now = () => new Date();

  app.post('/sites', {
    onRequest: guard('write'),
    schema: { tags: ['sites'], summary: 'Create a site', body: siteBody, response: { 201: siteSchema, ...errors } },
  }, async (req, reply) => {
    const { id, uplinkBytesPerSec, description, timeZone } = req.body;
    const site = await store.sites.create({ id, uplinkBytesPerSec, description: description ?? null, timeZone: timeZone ?? null }, now());
    return reply.code(201).send(site);
  });

  app.get('/sites', {
    onRequest: guard('read'),
    schema: { tags: ['sites'], summary: 'List sites', response: { 200: z.object({ items: z.array(siteSchema) }), ...errors } },
  }, async () => ({ items: await store.sites.list() }));

  app.get('/sites/:id', {
    onRequest: guard('read'),
    schema: { tags: ['sites'], summary: 'A site', params: idParams, response: { 200: siteSchema, ...errors } },
  }, async (req) => {
    const site = await store.sites.get(req.params.id);
    if (!site) throw new BatonError('NotFound', `site ${req.params.id} does not exist`);
    return site;
  });

  app.patch('/sites/:id', {
    onRequest: guard('write'),
    schema: { tags: ['sites'], summary: 'Change a site', params: idParams, body: patchSiteBody, response: { 200: siteSchema, ...errors } },
  }, async (req) => {
    const site = await store.sites.update(req.params.id, req.body, now());
    if (!site) throw new BatonError('NotFound', `site ${req.params.id} does not exist`);
    return site;
  });
};
