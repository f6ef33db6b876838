import type { X509Certificate } from 'node:crypto';
import { CLAIM_CLIENT_PREFIX, CLAIM_USERNAME, claimSerialOf } from '../../device-sdk/certificates.js';
import type { Transport } from '../../device-sdk/protocol/index.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { TokenService } from '../auth/tokens.js';
import type { Credential, Principal } from './principal.js';

/** MQTT 3.1.1 CONNACK return codes [MQTT-3.2.2.3]. */
export const ReturnCode = { IdentifierRejected: 2, ServerUnavailable: 3, BadUsernameOrPassword: 4, NotAuthorized: 5 } as const;

export type AuthResult =
  | { ok: true; principal: Principal; /** What it logged in with: revoking any of them ends the connection. */ credentials: Credential[] }
  | { ok: false; returnCode: number; reason: string };

export interface ConnectRequest {
  clientId: string;
  /** True when the client sent an empty client id (aedes then generates one). */
  emptyClientId: boolean;
  clean: boolean;
  username: string | undefined;
  password: string | undefined;
  transport: Transport;
  /** The client certificate of a mutual-TLS connection, already chained to the fleet CA by the handshake. */
  peerCertificate?: X509Certificate | undefined;
}

/** Who a client certificate stands for, once checked against the store (not revoked, known, device usable). */
export type CertificateIdentity =
  | { kind: 'device'; deviceId: string; serial: string }
  | { kind: 'claim'; template: string; serial: string; claimId: string };

export type CertificateCheck = { ok: true; identity: CertificateIdentity } | { ok: false; reason: string };

/** The certificate side of authentication, provided by broker/certs. */
export interface ClientCredentials {
  checkCertificate(cert: X509Certificate): Promise<CertificateCheck>;
  /** The claim credential of a claim token and the template it provisions for; undefined for an unknown or revoked token. */
  claim(token: string): Promise<{ id: string; template: string } | undefined>;
}

export interface AuthenticatorDeps {
  registry: DeviceRegistry;
  tokens: TokenService;
  allowAnonymous: boolean;
  /** Whether username/password logins are accepted on a transport (per listener); default all. */
  passwordAuth?: (transport: Transport) => boolean;
  /** Without it, client certificates and claim tokens are refused. */
  credentials?: ClientCredentials;
}

const refuse = (returnCode: number, reason: string): AuthResult => ({ ok: false, returnCode, reason });
const admit = (principal: Principal, ...credentials: Credential[]): AuthResult => ({ ok: true, principal, credentials });

/** Decides who a CONNECT is from, as a list of checks in the order the spec and our docs give. */
export function createAuthenticator(deps: AuthenticatorDeps) {
  const { registry, tokens, allowAnonymous, credentials } = deps;
  const passwordAuth = deps.passwordAuth ?? (() => true);

  /**
   * Mutual TLS: the certificate decides, like Mosquitto's `use_identity_as_username`. A username,
   * if sent (the SDK sends the device id), must agree with it; a password is not needed.
   */
  async function byCertificate(req: ConnectRequest, cert: X509Certificate): Promise<AuthResult> {
    if (!credentials) return refuse(ReturnCode.NotAuthorized, 'certificate-not-accepted');
    const check = await credentials.checkCertificate(cert);
    if (!check.ok) return refuse(ReturnCode.NotAuthorized, check.reason);
    const { identity } = check;
    if (identity.kind === 'claim') {
      const serial = claimSerialOf(req.clientId);
      if (serial === undefined) return refuse(ReturnCode.NotAuthorized, 'claim-client-id');
      const { template, claimId } = identity;
      return admit({ kind: 'claim', serial, template, claimId },
        { kind: 'certificate', serial: identity.serial }, { kind: 'claim', claimId }, { kind: 'template', name: template });
    }
    // As with secrets: a device's client id is its id, so its session cannot be borrowed.
    if (req.clientId !== identity.deviceId) return refuse(ReturnCode.NotAuthorized, 'client-id-mismatch');
    if (req.username !== undefined && req.username !== identity.deviceId) return refuse(ReturnCode.NotAuthorized, 'username-mismatch');
    return admit({ kind: 'device', deviceId: identity.deviceId }, { kind: 'certificate', serial: identity.serial });
  }

  async function byApiToken(password: string): Promise<AuthResult> {
    const token = await tokens.authenticate(password);
    if (!token) return refuse(ReturnCode.BadUsernameOrPassword, 'bad-token');
    if (token.role !== 'integration' && token.role !== 'admin') return refuse(ReturnCode.NotAuthorized, 'token-role');
    return admit({ kind: 'integration', tokenId: token.id }, { kind: 'token', tokenId: token.id });
  }

  /** A claim token may only provision: client id `provision-{serial}`, the ACL does the rest. */
  async function byClaimToken(req: ConnectRequest, password: string): Promise<AuthResult> {
    const claim = await credentials?.claim(password);
    if (claim === undefined) return refuse(ReturnCode.BadUsernameOrPassword, 'bad-claim-token');
    const serial = claimSerialOf(req.clientId);
    if (serial === undefined) return refuse(ReturnCode.NotAuthorized, 'claim-client-id');
    const { id: claimId, template } = claim;
    return admit({ kind: 'claim', serial, template, claimId }, { kind: 'claim', claimId }, { kind: 'template', name: template });
  }

  async function byDeviceSecret(req: ConnectRequest, username: string, password: string): Promise<AuthResult> {
    if (!(await registry.verifySecret(username, password))) return refuse(ReturnCode.BadUsernameOrPassword, 'bad-secret');
    // A device's client id is its id, so its session and ACL cannot be borrowed by another.
    if (req.clientId !== username) return refuse(ReturnCode.NotAuthorized, 'client-id-mismatch');
    return admit({ kind: 'device', deviceId: username }, { kind: 'secret', deviceId: username });
  }

  async function decide(req: ConnectRequest): Promise<AuthResult> {
    // [MQTT-3.1.3-8]: an empty client id requires clean session 1; refused before credentials.
    if (req.emptyClientId && !req.clean) return refuse(ReturnCode.IdentifierRejected, 'empty-client-id');
    if (req.peerCertificate) return byCertificate(req, req.peerCertificate);

    if (req.username === undefined) {
      return allowAnonymous ? admit({ kind: 'anonymous' }) : refuse(ReturnCode.NotAuthorized, 'anonymous');
    }
    if (!passwordAuth(req.transport)) return refuse(ReturnCode.NotAuthorized, 'password-auth-off');
    if (req.password === undefined) return refuse(ReturnCode.BadUsernameOrPassword, 'no-password');
    if (req.username === 'api') return byApiToken(req.password);
    if (req.username === CLAIM_USERNAME) return byClaimToken(req, req.password);
    return byDeviceSecret(req, req.username, req.password);
  }

  /**
   * A client id names a session: whoever connects with it closes the live connection and takes
   * over the stored session [MQTT-3.1.4-2]. So a registered device's id is for that device alone
   * (the device logins above already require client id = device id, and keep their code 5), and
   * `provision-…` for claim sessions alone. Checked after the credentials, so only a client that
   * proved who it is learns that an id is taken, and before aedes' takeover and session steps, so
   * the owner's connection and session are untouched.
   */
  async function checkClientId(req: ConnectRequest, result: AuthResult): Promise<AuthResult> {
    if (!result.ok || result.principal.kind === 'device' || req.emptyClientId) return result;
    if (result.principal.kind !== 'claim' && req.clientId.startsWith(CLAIM_CLIENT_PREFIX)) {
      return refuse(ReturnCode.IdentifierRejected, 'client-id-reserved');
    }
    if (await registry.exists(req.clientId)) return refuse(ReturnCode.IdentifierRejected, 'client-id-of-device');
    return result;
  }

  return async function authenticate(req: ConnectRequest): Promise<AuthResult> {
    return checkClientId(req, await decide(req));
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
