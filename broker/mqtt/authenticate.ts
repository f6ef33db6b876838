import type { DeviceRegistry } from '../devices/registry.js';
import type { TokenService } from '../auth/tokens.js';
import type { Principal } from './principal.js';

/** MQTT 3.1.1 CONNACK return codes [MQTT-3.2.2.3]. */
export const ReturnCode = { IdentifierRejected: 2, ServerUnavailable: 3, BadUsernameOrPassword: 4, NotAuthorized: 5 } as const;

export type AuthResult = { ok: true; principal: Principal } | { ok: false; returnCode: number; reason: string };

export interface ConnectRequest {
  clientId: string;
  /** True when the client sent an empty client id (aedes then generates one). */
  emptyClientId: boolean;
  clean: boolean;
  username: string | undefined;
  password: string | undefined;
}

export interface AuthenticatorDeps {
  registry: DeviceRegistry;
  tokens: TokenService;
  allowAnonymous: boolean;
}

/** Decides who a CONNECT is from, as a list of checks in the order the spec and our docs give. */
export function createAuthenticator({ registry, tokens, allowAnonymous }: AuthenticatorDeps) {
  const refuse = (returnCode: number, reason: string): AuthResult => ({ ok: false, returnCode, reason });

  return async function authenticate(req: ConnectRequest): Promise<AuthResult> {
    // [MQTT-3.1.3-8]: an empty client id requires clean session 1; refused before credentials.
    if (req.emptyClientId && !req.clean) return refuse(ReturnCode.IdentifierRejected, 'empty-client-id');

    if (req.username === undefined) {
      return allowAnonymous ? { ok: true, principal: { kind: 'anonymous' } } : refuse(ReturnCode.NotAuthorized, 'anonymous');
    }
    if (req.password === undefined) return refuse(ReturnCode.BadUsernameOrPassword, 'no-password');

    if (req.username === 'api') {
      const token = await tokens.authenticate(req.password);
      if (!token) return refuse(ReturnCode.BadUsernameOrPassword, 'bad-token');
      if (token.role !== 'integration' && token.role !== 'admin') return refuse(ReturnCode.NotAuthorized, 'token-role');
      return { ok: true, principal: { kind: 'integration', tokenId: token.id } };
    }

    if (!(await registry.verifySecret(req.username, req.password))) {
      return refuse(ReturnCode.BadUsernameOrPassword, 'bad-secret');
    }
    // A device's client id is its id, so its session and ACL cannot be borrowed by another.
    if (req.clientId !== req.username) return refuse(ReturnCode.NotAuthorized, 'client-id-mismatch');
    return { ok: true, principal: { kind: 'device', deviceId: req.username } };
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
