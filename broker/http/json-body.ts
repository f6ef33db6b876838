/**
 * The admin API's JSON body parser: fastify's own (secure-json-parse: `__proto__` and
 * `constructor` poisoning refused), behind a nesting check on the text, so a body nested deeper
 * than any valid request is refused with `TooDeep` before anything (JSON.parse, zod, a store's
 * JSON.stringify, the response serializer) walks it. It runs after authentication: the guard is
 * an `onRequest` hook (broker/http/auth.ts), and fastify reads no body before those.
 */
import type { FastifyInstance } from 'fastify';
import { BatonError } from '../../device-sdk/protocol/index.js';

/**
 * Deepest nesting any request body may have (`{"a":1}` is 1), unless its route raises it with
 * `config.maxBodyDepth`. The deepest valid bodies are a free-form object one level down
 * (FREE_FORM_MAX_DEPTH + 1 = 17) and a shadow patch (BATON_SHADOW_MAX_DEPTH + 2 = 8 by default);
 * each field's own limit, with its own message, is checked by its schema.
 */
export const MAX_BODY_DEPTH = 32;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Raises (never lowers) MAX_BODY_DEPTH for this route, for limits set by configuration. */
    maxBodyDepth?: number;
  }
}

/**
 * Whether JSON text nests deeper than `limit`. One linear pass without recursion or allocation;
 * brackets inside strings do not count. Text that is not JSON gives some answer, and then fails
 * JSON.parse anyway.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** Replaces fastify's `application/json` parser (same body limits: the server's, or the route's). */
export function installJsonBodyParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const limit = Math.max(MAX_BODY_DEPTH, request.routeOptions.config.maxBodyDepth ?? 0);
    if (nestsDeeperThan(body as string, limit)) {
      done(new BatonError('TooDeep', `the body nests deeper than ${limit} levels`), undefined);
      return;
    }
    parse(request, body as string, done);
  });
}
