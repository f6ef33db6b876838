import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { BatonError } from '../../device-sdk/protocol/index.js';
import { roleAllows, type Access, type TokenService } from '../auth/tokens.js';
import type { TokenRecord } from '../store/types.js';

declare module 'fastify' {
  interface FastifyRequest {
    token?: TokenRecord;
  }
}

const authGuardMark = Symbol('baton.authGuard');

/** Whether `hook` is a guard made by createAuthGuard (app.ts refuses one outside `onRequest`). */
export const isAuthGuard = (hook: unknown): boolean => typeof hook === 'function' && authGuardMark in hook;

/**
 * `Authorization: Bearer <token>` on every /api/v1 route, and the role check for the route's
 * access level: viewer and integration read, operator writes, admin also manages tokens.
 *
 * Mount it as the route's `onRequest` hook (`onRequest: guard('write')`): it then runs before
 * the body is read, parsed or validated, so a caller without a valid token gets 401, and one
 * whose role may not use the route 403, never a schema error, and no unauthenticated body is
 * parsed (or, for the firmware upload, written to disk). app.ts refuses a guard mounted later.
 */
export function createAuthGuard(tokens: TokenService) {
  return (access: Access): onRequestAsyncHookHandler =>
    Object.assign(async function requireAccess(request: FastifyRequest, _reply: FastifyReply) {
      const header = request.headers.authorization;
      const match = header?.match(/^Bearer\s+(\S+)$/i);
      if (!match) throw new BatonError('Unauthorized', 'send Authorization: Bearer <token>');
      const token = await tokens.authenticate(match[1]!);
      if (!token) throw new BatonError('Unauthorized', 'the token is not valid');
      if (!roleAllows(token.role, access)) {
        throw new BatonError('Forbidden', `role ${token.role} may not ${access === 'read' ? 'read' : 'change'} this resource`);
      }
      request.token = token;
    }, { [authGuardMark]: access });
}

export type AuthGuard = ReturnType<typeof createAuthGuard>;
