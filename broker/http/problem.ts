/**
 * RFC 9457 problem details for every error the admin API returns. The `code` is the stable part
 * (from the protocol's error catalogue); `title` and `detail` are for people.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
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

/**
 * Answers a problem straight on the socket and closes it: for a request fastify is not answering
 * (a timed-out or malformed one), as Node's own `clientError` answer does.
 */
export function writeRawProblem(socket: Socket, problem: Problem): void {
  if (socket.destroyed) return;
  if (socket.writable) {
    const body = JSON.stringify(problem);
    socket.write(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? ''}\r\nContent-Type: application/problem+json\r\n`
      + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * fastify's `clientErrorHandler`: Node's headers timeout (and any request it cannot parse) is
 * answered as a problem too, before the connection is closed.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let problem: Problem;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') problem = toProblem('RequestTimeout', 'the request headers did not arrive in time');
  // 431 as Node and fastify answer it; the closest stable code.
  else if (err.code === 'HPE_HEADER_OVERFLOW') problem = { ...toProblem('PayloadTooLarge', 'the request headers are too large'), status: 431 };
  else problem = toProblem('InvalidRequest', 'the request is not valid HTTP');
  writeRawProblem(socket, problem);
}

/**
 * fastify's `frameworkErrors`: the router's own rejections, answered before any route or hook runs
 * (fastify would answer them as plain `{"error","code":"FST_ERR_…"}` JSON).
 * - FST_ERR_BAD_URL (400): malformed percent-encoding in the path → InvalidRequest.
 * - FST_ERR_MAX_PARAM_LENGTH (414): a path parameter longer than the router's `maxParamLength`
 *   (app.ts), which is set to the longest id-like parameter any schema allows; no resource of
 *   that id can exist, so the answer is 404 NotFound (the catalogue has no 414 code).
 * - anything else (FST_ERR_ASYNC_CONSTRAINT, …): classified as by the error handler.
 */
export function frameworkErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let problem: Problem;
  if (err.code === 'FST_ERR_BAD_URL') problem = toProblem('InvalidRequest', 'the request path is not valid percent-encoding', request.url);
  else if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    problem = toProblem('NotFound', 'a path parameter is longer than any id the API allows', request.url);
  } else {
    const { code, detail, fields } = classify(err);
    if (code === 'InternalError') request.log.error({ err }, 'unhandled framework error');
    problem = toProblem(code, detail, request.url, fields);
  }
  return sendProblem(reply, problem);
}

/** fastify error codes for malformed requests that never reached a route's schema. */
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'InvalidJSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'InvalidJSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PayloadTooLarge',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'InvalidRequest',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'InvalidRequest',
};

/** At most this many entries in a problem's `fields` (a body of 50,000 unknown keys would otherwise answer with all of them). */
export const MAX_PROBLEM_FIELDS = 100;

function capFields(fields: Record<string, string>, detail: string): { detail: string; fields: Record<string, string> } {
  const entries = Object.entries(fields);
  if (entries.length <= MAX_PROBLEM_FIELDS) return { detail, fields };
  return {
    detail: `${detail} (${entries.length} fields are invalid; only the first ${MAX_PROBLEM_FIELDS} are listed)`,
    fields: Object.fromEntries(entries.slice(0, MAX_PROBLEM_FIELDS)),
  };
}

/** At most this many characters of a field's path or message. */
const MAX_FIELD_TEXT = 1000;

const clip = (text: string) => (text.length <= MAX_FIELD_TEXT ? text : `${text.slice(0, MAX_FIELD_TEXT)}… (truncated)`);

/**
 * A schema issue's message, bounded: zod's unrecognized_keys names every unknown key (50,000
 * unknown keys made one 589 KB message), so only the first MAX_PROBLEM_FIELDS keys are named.
 */
function fieldMessage(message: string | undefined, issue: unknown): string {
  const keys = (issue as { keys?: unknown } | undefined)?.keys;
  if (Array.isArray(keys) && keys.length > MAX_PROBLEM_FIELDS) {
    const named = keys.slice(0, MAX_PROBLEM_FIELDS).map((k) => JSON.stringify(String(k))).join(', ');
    return clip(`Unrecognized keys (${keys.length}; the first ${MAX_PROBLEM_FIELDS} named): ${named}`);
  }
  return clip(message ?? 'invalid');
}

function classify(err: FastifyError | BatonError | Error): { code: ErrorCode; detail: string; fields?: Record<string, string> } {
  if (err instanceof BatonError) {
    const fields = err.details?.fields as Record<string, string> | undefined;
    return { code: err.code, ...(fields ? capFields(fields, err.message) : { detail: err.message }) };
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    const fields: Record<string, string> = {};
    // A schema may name a more precise code in its issue's params (e.g. TooDeep, broker/http/schemas.ts).
    let code: ErrorCode = 'InvalidRequest';
    for (const v of err.validation) {
      const path = `${err.validationContext ?? 'body'}${v.instancePath.replaceAll('/', '.')}`;
      fields[clip(path)] = fieldMessage(v.message, v.params);
      const named = (v.params as { params?: { batonCode?: unknown } } | undefined)?.params?.batonCode;
      if (code === 'InvalidRequest' && typeof named === 'string' && named in errorCatalogue) code = named as ErrorCode;
    }
    const baseDetail = code === 'InvalidRequest' ? 'the request does not match its schema' : errorCatalogue[code].description;
    return { code, ...capFields(fields, baseDetail) };
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
