/**
 * Admin API of the fleet CA and device certificates. `GET /ca` and `GET /ca/crl` need no token:
 * a CA certificate and a CRL are public by nature (RFC 5280 serves CRLs over plain HTTP), and the
 * tools and gateways that fetch them hold no admin token.
 */
import type { FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiPlugin } from '../http/app.js';
import { idParams, problemSchema } from '../http/schemas.js';
import { certificateSchema, issueCertificateBody, issuedCertificateSchema, itemsOf, revokeBody, serialParams } from './http-schemas.js';
import type { CertificateService } from './service.js';

const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema, 409: problemSchema };

const sendPem = (reply: FastifyReply, type: string, pem: string) => reply.type(type).send(pem);

export function certificateRoutes(certificates: CertificateService): ApiPlugin {
  return async (plain, { guard }) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.get('/ca', {
      schema: { tags: ['certificates'], summary: 'The fleet CA certificate bundle (PEM); no token needed', security: [] },
    }, async (_req, reply) => sendPem(reply, 'application/x-pem-file', certificates.caPem));

    app.get('/ca/crl', {
      schema: { tags: ['certificates'], summary: 'The current certificate revocation list (PEM); no token needed', security: [] },
    }, async (_req, reply) => sendPem(reply, 'application/pkix-crl', await certificates.crl()));

    app.post('/devices/:id/certificates', {
      onRequest: guard('write'),
      schema: {
        tags: ['certificates'],
        summary: 'Issue a certificate for a CSR (`{ csr }`), or with a generated key returned once (`{ generateKey: true }`)',
        params: idParams, body: issueCertificateBody, response: { 201: issuedCertificateSchema, ...errors },
      },
    }, async (req, reply) => {
      const { id } = req.params;
      const body = req.body;
      const issued = 'csr' in body ? await certificates.issueFromCsr(id, body.csr, 'csr') : await certificates.generate(id, body.pkcs12Password);
      return reply.code(201).send({ ...issued, ca: certificates.caPem });
    });

    app.get('/devices/:id/certificates', {
      onRequest: guard('read'),
      schema: { tags: ['certificates'], summary: "A device's certificates, newest first", params: idParams, response: { 200: itemsOf(certificateSchema), ...errors } },
    }, async (req) => ({ items: await certificates.list(req.params.id) }));

    app.post('/devices/:id/certificates/:serial/revoke', {
      onRequest: guard('write'),
      schema: {
        tags: ['certificates'],
        summary: 'Revoke a certificate: refused at the next connect, live connections using it dropped at once',
        params: serialParams, body: revokeBody, response: { 200: certificateSchema, ...errors },
      },
    }, async (req) => certificates.revoke(req.params.id, req.params.serial, req.body?.reason ?? 'unspecified'));
  };
}
