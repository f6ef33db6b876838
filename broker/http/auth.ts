import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { BatonError } from '../../device-sdk/protocol/index.js';
import { roleAllows, type Access, type TokenService } from '../auth/tokens.js';
import type { TokenRecord } from '../store/types.js';

declare module 'fastify' {
  interface FastifyRequest {
    token?: TokenRecord;
  }
}

/**
 * `Authorization: Bearer <token>` on every /api/v1 route, and the role check for the route's
 * access level: viewer and integration read, operator writes, admin also manages tokens.
 */
export function createAuthGuard(tokens: TokenService) {
  return (access: Access): preHandlerAsyncHookHandler =>
    async function requireAccess(request: FastifyRequest, _reply: FastifyReply) {
      const header = request.headers.authorization;
      const match = header?.match(/^Bearer\s+(\S+)$/i);
      if (!match) throw new BatonError('Unauthorized', 'send Authorization: Bearer <token>');
      const token = await tokens.authenticate(match[1]!);
      if (!token) throw new BatonError('Unauthorized', 'the token is not valid');
      if (!roleAllows(token.role, access)) {
        throw new BatonError('Forbidden', `role ${token.role} may not ${access === 'read' ? 'read' : 'change'} this resource`);
      }
      request.token = token;
    };
}

export type AuthGuard = ReturnType<typeof createAuthGuard>;
