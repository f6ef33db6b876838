/**
 * The REST edge of shadows, under /api/v1: read, change `desired`, delete, history, and the list
 * of a device's shadows. Errors are problem+json with the catalogue's codes (VersionConflict 409,
 * NotFound 404, PayloadTooLarge 413, TooDeep 400, …), the same codes a device gets on `…/rejected`.
 */
import type { preValidationAsyncHookHandler } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BatonError } from '../../device-sdk/protocol/errors.js';
import { shadowDeleteAcceptedSchema, shadowDocumentSchema } from '../../device-sdk/protocol/shadow.js';
import type { ApiPlugin } from '../http/app.js';
import { idParams, problemSchema } from '../http/schemas.js';
import { toDocument } from './document.js';
import { historyEntrySchema, historyQuery, patchShadowBody, shadowListSchema, shadowNameQuery } from './http-schemas.js';
import { jsonDepth } from './json.js';
import type { ShadowLimits } from './limits.js';
import type { ShadowService } from './service.js';
import type { ShadowKey } from './store.js';

const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema };
const tags = ['shadows'];

const keyOf = (req: { params: { id: string }; query: { name?: string | undefined } }): ShadowKey =>
  ({ deviceId: req.params.id, shadowName: req.query.name });

/**
 * Refuses a body nested deeper than any valid request before schema validation walks it (zod
 * recurses; a hostile body a few thousand levels deep would exhaust the stack). The body wraps
 * `desired` in two levels, as the MQTT payload does.
 */
const depthGuard = (limits: ShadowLimits): preValidationAsyncHookHandler =>
  async function checkDepth(request) {
    if (jsonDepth(request.body) > limits.maxDepth + 2) {
      throw new BatonError('TooDeep', `desired may nest at most ${limits.maxDepth} levels`);
    }
  };

export function shadowRoutes({ shadows, limits, historyVersions }: { shadows: ShadowService; limits: ShadowLimits; historyVersions: number }): ApiPlugin {
  return async (plain, { guard, registry }) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();

    app.get('/devices/:id/shadow', {
      onRequest: guard('read'),
      schema: { tags, summary: 'A shadow document, with its delta', params: idParams, querystring: shadowNameQuery, response: { 200: shadowDocumentSchema, ...errors } },
    }, async (req) => shadows.get(keyOf(req)));

    app.patch('/devices/:id/shadow', {
      onRequest: guard('write'),
      preValidation: depthGuard(limits),
      bodyLimit: limits.maxRequestBytes,
      // The JSON parser's own nesting cap must not refuse what BATON_SHADOW_MAX_DEPTH allows.
      config: { maxBodyDepth: limits.maxDepth + 2 },
      schema: {
        tags,
        summary: 'Change desired state (a JSON merge patch); answers the document after the change',
        params: idParams, querystring: shadowNameQuery, body: patchShadowBody,
        response: { 200: shadowDocumentSchema, ...errors, 409: problemSchema, 413: problemSchema },
      },
    }, async (req) => {
      const { stored } = await shadows.update(keyOf(req), req.body, 'operator');
      // The document as of this update: its timestamp is the update's (epoch seconds → ms).
      return toDocument(stored, stored.timestamp * 1000, req.body.clientToken);
    });

    app.delete('/devices/:id/shadow', {
      onRequest: guard('write'),
      schema: {
        tags, summary: 'Delete a shadow; its version counter is kept', params: idParams, querystring: shadowNameQuery,
        response: { 200: shadowDeleteAcceptedSchema, ...errors },
      },
    }, async (req) => (await shadows.delete(keyOf(req), 'operator')).accepted);

    app.get('/devices/:id/shadow/history', {
      onRequest: guard('read'),
      schema: {
        tags, summary: `The last versions of a shadow, newest first (${historyVersions} kept)`, params: idParams, querystring: historyQuery,
        response: { 200: z.object({ items: z.array(historyEntrySchema) }), ...errors },
      },
    }, async (req) => {
      await registry.get(req.params.id);
      return { items: await shadows.history(keyOf(req), req.query.limit) };
    });

    app.get('/devices/:id/shadows', {
      onRequest: guard('read'),
      schema: { tags, summary: "A device's live shadows: the classic one (name null) and named ones", params: idParams, response: { 200: shadowListSchema, ...errors } },
    }, async (req) => {
      await registry.get(req.params.id);
      return { items: await shadows.list(req.params.id) };
    });
  };
}
