import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { JsonObject } from '../../../device-sdk/protocol/index.js';
import { parseFleetQuery } from '../../shadows/query.js';
import type { ApiContext } from '../context.js';
import {
  createDeviceBody, deviceDetailSchema, deviceSchema, deviceWithSecretSchema, idParams, listDevicesQuery, pageOf, patchDeviceBody, problemSchema,
} from '../schemas.js';

const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema, 409: problemSchema };

export const deviceRoutes: FastifyPluginAsyncZod<ApiContext> = async (app, ctx) => {
  const { registry, guard, store, presence, sessions, connections } = ctx;

  app.post('/devices', {
    onRequest: guard('write'),
    schema: { tags: ['devices'], summary: 'Register a device; its secret is returned once', body: createDeviceBody, response: { 201: deviceWithSecretSchema, ...errors } },
  }, async (req, reply) => {
    const { device, secret } = await registry.create({ ...req.body, attributes: req.body.attributes as JsonObject | undefined });
    // A session another principal left under this client id (before the id was a device's) is not the device's.
    await sessions.forget(device.id);
    return reply.code(201).send({ ...device, secret });
  });

  app.get('/devices', {
    onRequest: guard('read'),
    schema: { tags: ['devices'], summary: 'List devices with filters and cursor pagination', querystring: listDevicesQuery, response: { 200: pageOf(deviceSchema), ...errors } },
  }, async (req) => {
    const { tag, deviceClass, site, status, certExpiresWithinDays, limit, cursor, shadow, ...shadowConditions } = req.query;
    return registry.list({ tag, deviceClass, site, status, certExpiresWithinDays, limit, cursor, shadow: parseFleetQuery(shadowConditions, shadow) });
  });

  app.get('/devices/:id', {
    onRequest: guard('read'),
    schema: { tags: ['devices'], summary: 'A device with status, last connection and latest health', params: idParams, response: { 200: deviceDetailSchema, ...errors } },
  }, async (req) => {
    const device = await registry.get(req.params.id);
    const [connection] = await store.connections.recent(device.id, 1);
    const health = await store.health.latest(device.id);
    const session = sessions.info(device.id, presence.session(device.id) !== undefined);
    return { ...device, connection: connection ?? null, health: health ?? null, session };
  });

  app.patch('/devices/:id', {
    onRequest: guard('write'),
    schema: { tags: ['devices'], summary: 'Change tags, attributes, site or device class', params: idParams, body: patchDeviceBody, response: { 200: deviceSchema, ...errors } },
  }, async (req) => registry.update(req.params.id, { ...req.body, attributes: req.body.attributes as JsonObject | undefined }));

  app.delete('/devices/:id', {
    onRequest: guard('write'),
    schema: { tags: ['devices'], summary: 'Delete a device, disconnect it and invalidate its credentials', params: idParams, response: { 204: z.null(), ...errors } },
  }, async (req, reply) => {
    await registry.delete(req.params.id);
    // A device registered again under this id starts without the old one's subscriptions and queue.
    await sessions.forget(req.params.id);
    return reply.code(204).send(null);
  });

  app.post('/devices/:id/secret', {
    onRequest: guard('write'),
    schema: {
      tags: ['devices'],
      summary: 'Rotate the device secret; the new one is returned once, and connections that logged in with the old one are closed (certificate logins stay)',
      params: idParams, response: { 200: z.object({ secret: z.string() }), ...errors },
    },
  }, async (req) => {
    const secret = await registry.rotateSecret(req.params.id);
    connections.disconnectCredential({ kind: 'secret', deviceId: req.params.id });
    return { secret };
  });
};
