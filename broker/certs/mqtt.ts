/**
 * The MQTT edge of certificates: rotation (`devices/{id}/certificates/create-from-csr`) and
 * zero-touch provisioning (`provisioning/{serial}/register`), both request/response in AWS IoT's
 * shape: the reply goes to `…/accepted` or, with a stable code, to `…/rejected`, echoing the
 * request's `clientToken`. A rejection keeps the connection up. The ACL has already checked that
 * the topic is the publisher's own (its device id, or the serial of its claim client id).
 */
import type { z } from 'zod';
import {
  certificateRejectedSchema,
  createFromCsrRequestSchema,
  registerRequestSchema,
  type CertificateRejected,
} from '../../device-sdk/certificates.js';
import type { Logger } from 'pino';
import { BatonError, issueFields, parseJsonObject, topics } from '../../device-sdk/protocol/index.js';
import type { InboundHandler, InboundMessage, InboundRouter } from '../mqtt/inbound.js';
import type { Publisher } from '../mqtt/publisher.js';
import { requestReplyHandler } from '../mqtt/request-reply.js';
import type { Registration } from './registration.js';
import type { CertificateService } from './service.js';

/** A request is a CSR and a few short fields. */
const MAX_REQUEST_BYTES = 32 * 1024;

export interface CertificateInboundDeps {
  certificates: CertificateService;
  registration: Registration;
  publisher: Publisher;
  log: Logger;
  /** Counts each request by kind and outcome (`accepted` or the error code). */
  onOutcome: (kind: string, outcome: string) => void;
}

/** Where a request is answered and what answers it; undefined when its principal may not make it. */
type Route<Body> = (message: InboundMessage) => { topic: string; run: (body: Body) => Promise<object> } | undefined;

function parseRequest<S extends z.ZodType>(schema: S, payload: Buffer): z.output<S> {
  const parsed = schema.safeParse(parseJsonObject(payload, MAX_REQUEST_BYTES));
  if (!parsed.success) throw new BatonError('InvalidRequest', 'the request does not match its schema', { fields: issueFields(parsed.error) });
  return parsed.data;
}

/** The clientToken to echo, read leniently so even a malformed request's rejection carries it. */
function echoOf(payload: Buffer): { clientToken?: string } {
  try {
    const token = (JSON.parse(payload.toString()) as { clientToken?: unknown }).clientToken;
    return typeof token === 'string' && token.length > 0 && token.length <= 64 ? { clientToken: token } : {};
  } catch {
    return {};
  }
}

export function registerCertificateInbound(router: InboundRouter, deps: CertificateInboundDeps): void {
  const { certificates, registration, publisher } = deps;

  const handler = <S extends z.ZodType>(kind: string, schema: S, route: Route<z.output<S>>): InboundHandler =>
    requestReplyHandler(
      {
        route,
        serve: async ({ run }, { payload }, accept) => accept({ ...(await run(parseRequest(schema, payload))), ...echoOf(payload) }),
        rejected: (err, { payload }): CertificateRejected =>
          certificateRejectedSchema.parse({ code: err.code, message: err.message, ...echoOf(payload) }),
        onOutcome: (outcome) => deps.onOutcome(kind, outcome),
      },
      { publisher, log: deps.log },
    );

  router.on('certificates/create-from-csr', handler('rotation', createFromCsrRequestSchema, ({ principal }) => {
    if (principal.kind !== 'device') return undefined;
    const { deviceId } = principal;
    return {
      topic: topics.certificates(deviceId, 'create-from-csr'),
      run: async ({ csr }) => {
        const issued = await certificates.issueFromCsr(deviceId, csr, 'rotation');
        return { certificate: issued.certificate, serial: issued.serial, notAfter: issued.notAfter };
      },
    };
  }));

  router.on('provisioning/register', handler('provisioning', registerRequestSchema, ({ principal }) => {
    if (principal.kind !== 'claim') return undefined;
    const { serial, template, claimId } = principal;
    return { topic: topics.provisioning(serial, 'register'), run: (request) => registration.register({ serial, template, claimId }, request) };
  }));
}
