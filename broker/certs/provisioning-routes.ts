/** Admin API of zero-touch provisioning: templates, their claim credentials, and approvals. */
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { JsonObject } from '../../device-sdk/protocol/index.js';
import type { ApiPlugin } from '../http/app.js';
import { deviceSchema, idParams, problemSchema } from '../http/schemas.js';
import { claimBody, claimParams, claimSchema, issuedClaimSchema, itemsOf, templateBody, templateParams, templateSchema } from './http-schemas.js';
import type { Registration } from './registration.js';
import type { TemplateService } from './templates.js';

const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema, 409: problemSchema };
const tags = ['provisioning'];

export function provisioningRoutes({ templates, registration }: { templates: TemplateService; registration: Registration }): ApiPlugin {
  return async (plain, { guard }) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();

    app.post('/provisioning-templates', {
      onRequest: guard('write'),
      schema: { tags, summary: 'Create a provisioning template', body: templateBody, response: { 201: templateSchema, ...errors } },
    }, async (req, reply) => {
      const template = await templates.create({ ...req.body, attributes: req.body.attributes as JsonObject | undefined });
      return reply.code(201).send(template);
    });

    app.get('/provisioning-templates', {
      onRequest: guard('read'),
      schema: { tags, summary: 'List provisioning templates', response: { 200: itemsOf(templateSchema), ...errors } },
    }, async () => ({ items: await templates.list() }));

    app.get('/provisioning-templates/:name', {
      onRequest: guard('read'),
      schema: { tags, summary: 'A provisioning template', params: templateParams, response: { 200: templateSchema, ...errors } },
    }, async (req) => templates.get(req.params.name));

    app.delete('/provisioning-templates/:name', {
      onRequest: guard('write'),
      schema: {
        tags,
        summary: 'Delete a provisioning template and its claim credentials; its claim sessions are disconnected at once',
        params: templateParams, response: { 204: z.null(), ...errors },
      },
    }, async (req, reply) => {
      await templates.delete(req.params.name);
      return reply.code(204).send(null);
    });

    app.post('/provisioning-templates/:name/claim', {
      onRequest: guard('write'),
      schema: {
        tags,
        summary: 'Create a claim credential (a token, or a claim certificate and key) that can only provision with this template; returned once',
        params: templateParams, body: claimBody, response: { 201: issuedClaimSchema, ...errors },
      },
    }, async (req, reply) => reply.code(201).send(await templates.issueClaim(req.params.name, req.body.kind, req.body.pkcs12Password)));

    app.get('/provisioning-templates/:name/claims', {
      onRequest: guard('read'),
      schema: { tags, summary: "A template's claim credentials (without their secrets)", params: templateParams, response: { 200: itemsOf(claimSchema), ...errors } },
    }, async (req) => ({ items: await templates.listClaims(req.params.name) }));

    app.post('/provisioning-templates/:name/claims/:claimId/revoke', {
      onRequest: guard('write'),
      schema: { tags, summary: 'Revoke a claim credential', params: claimParams, response: { 200: claimSchema, ...errors } },
    }, async (req) => templates.revokeClaim(req.params.name, req.params.claimId));

    app.post('/devices/:id/approve', {
      onRequest: guard('write'),
      schema: { tags, summary: 'Approve a device that provisioning left `pending`; it may connect from now on', params: idParams, response: { 200: deviceSchema, ...errors } },
    }, async (req) => registration.approve(req.params.id));
  };
}
