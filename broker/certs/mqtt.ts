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
import { BatonError, isBatonError, issueFields, parseJsonObject, topics } from '../../device-sdk/protocol/index.js';
import type { InboundHandler, InboundMessage, InboundRouter } from '../mqtt/inbound.js';
import type { Publisher } from '../mqtt/publisher.js';
import type { Registration } from './registration.js';
import type { CertificateService } from './service.js';

/** A request is a CSR and a few short fields. */
const MAX_REQUEST_BYTES = 32 * 1024;

export interface CertificateInboundDeps {
  certificates: CertificateService;
  registration: Registration;
  publisher: Publisher;
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
function clientTokenOf(payload: Buffer): string | undefined {
  try {
    const token = (JSON.parse(payload.toString()) as { clientToken?: unknown }).clientToken;
    return typeof token === 'string' && token.length > 0 && token.length <= 64 ? token : undefined;
  } catch {
    return undefined;
  }
}

export function registerCertificateInbound(router: InboundRouter, deps: CertificateInboundDeps): void {
  const { certificates, registration, publisher } = deps;

  const handler = <S extends z.ZodType>(kind: string, schema: S, route: Route<z.output<S>>): InboundHandler =>
    async function certificateRequest(message) {
      const target = route(message);
      if (target === undefined) return 'consume';
      const clientToken = clientTokenOf(message.payload);
      const echo = clientToken === undefined ? {} : { clientToken };
      try {
        const reply = await target.run(parseRequest(schema, message.payload));
        await publisher.publish(`${target.topic}/accepted`, { ...reply, ...echo });
        deps.onOutcome(kind, 'accepted');
      } catch (err) {
        // Anything but a BatonError is a store failure: broker.ts closes the connection unacknowledged.
        if (!isBatonError(err)) throw err;
        const rejected: CertificateRejected = certificateRejectedSchema.parse({ code: err.code, message: err.message, ...echo });
        await publisher.publish(`${target.topic}/rejected`, rejected);
        deps.onOutcome(kind, err.code);
      }
      return 'consume';
    };

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
    const { serial, template } = principal;
    return { topic: topics.provisioning(serial, 'register'), run: (request) => registration.register({ serial, template }, request) };
  }));
}
