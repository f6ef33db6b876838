/**
 * RFC 9457 problem details for every error the admin API returns. The `code` is the stable part
 * (from the protocol's error catalogue); `title` and `detail` are for people.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { BatonError, errorCatalogue, type ErrorCode } from '../../device-sdk/protocol/index.js';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string;
  fields?: Record<string, string>;
}

export const problemType = (code: ErrorCode) => `https://baton.dev/problems/${code}`;

export function toProblem(code: ErrorCode, detail: string, instance?: string, fields?: Record<string, string>): Problem {
  const entry = errorCatalogue[code];
  return { type: problemType(code), title: entry.description, status: entry.http, detail, code, instance, ...(fields ? { fields } : {}) };
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type('application/problem+json').send(JSON.stringify(problem));
}

/** fastify error codes for malformed requests that never reached a route's schema. */
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'InvalidJSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'InvalidJSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PayloadTooLarge',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'InvalidRequest',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'InvalidRequest',
};

function classify(err: FastifyError | BatonError | Error): { code: ErrorCode; detail: string; fields?: Record<string, string> } {
  if (err instanceof BatonError) {
    const fields = err.details?.fields as Record<string, string> | undefined;
    return { code: err.code, detail: err.message, ...(fields ? { fields } : {}) };
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    const fields: Record<string, string> = {};
    for (const v of err.validation) {
      const path = `${err.validationContext ?? 'body'}${v.instancePath.replaceAll('/', '.')}`;
      fields[path] = v.message ?? 'invalid';
    }
    return { code: 'InvalidRequest', detail: 'the request does not match its schema', fields };
  }
  const fe = err as FastifyError;
  if (fe.code && fastifyCodes[fe.code]) return { code: fastifyCodes[fe.code]!, detail: fe.message };
  if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) return { code: 'InvalidRequest', detail: fe.message };
  return { code: 'InternalError', detail: 'an unexpected error occurred; it has been logged' };
}

export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const { code, detail, fields } = classify(err);
    if (code === 'InternalError') request.log.error({ err }, 'unhandled error');
    return sendProblem(reply, toProblem(code, detail, request.url, fields));
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, toProblem('NotFound', `no route ${request.method} ${request.url.split('?')[0]}`, request.url)),
  );
}
