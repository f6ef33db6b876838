/**
 * The CONNECT decision as a table: each row a connect request and the principal admitted or the
 * refusal (CONNACK code and reason). The registry, tokens and certificate checks are fakes.
 */
import type { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TokenService } from '../auth/tokens.js';
import type { DeviceRegistry } from '../devices/registry.js';
import { createAuthenticator, type CertificateCheck, type ConnectRequest } from './authenticate.js';

/** A fake peer certificate is just its name; `checks` says what the store makes of it. */
const cert = (name: string) => ({ name }) as unknown as X509Certificate;
const checks: Record<string, CertificateCheck> = {
  dev1: { ok: true, identity: { kind: 'device', deviceId: 'dev-1', serial: 'aa01' } },
  claim: { ok: true, identity: { kind: 'claim', template: 'factory', serial: 'cc01', claimId: 'k2' } },
  revoked: { ok: false, reason: 'certificate-revoked' },
};

/** Registered devices: dev-1, and provision-SN-9 from before `provision-` was reserved. */
const registry = {
  verifySecret: async (id: string, secret: string) => id === 'dev-1' && secret === 's3cret',
  exists: async (id: string) => id === 'dev-1' || id === 'provision-SN-9',
} as unknown as DeviceRegistry;

const authenticate = createAuthenticator({
  registry,
  tokens: {
    authenticate: async (t: string) => (t === 'integration-token' ? { id: 't1', role: 'integration' } : t === 'viewer-token' ? { id: 't2', role: 'viewer' } : undefined),
  } as unknown as TokenService,
  allowAnonymous: false,
  passwordAuth: (transport) => transport !== 'wss',
  credentials: {
    checkCertificate: async (c) => checks[(c as unknown as { name: string }).name]!,
    claim: async (token) => (token === 'claim-token' ? { id: 'k1', template: 'factory' } : undefined),
  },
});

const base: ConnectRequest = { clientId: 'dev-1', emptyClientId: false, clean: true, username: undefined, password: undefined, transport: 'tcp' };
const secret = { username: 'dev-1', password: 's3cret' };

describe('createAuthenticator', () => {
  it.each<[string, Partial<ConnectRequest>, object]>([
    ['a device secret', secret, { ok: true, principal: { kind: 'device', deviceId: 'dev-1' }, credentials: [{ kind: 'secret', deviceId: 'dev-1' }] }],
    ['a wrong secret', { username: 'dev-1', password: 'nope' }, { ok: false, returnCode: 4, reason: 'bad-secret' }],
    ['a secret under another client id', { ...secret, clientId: 'dev-2' }, { ok: false, returnCode: 5, reason: 'client-id-mismatch' }],
    ['no credentials', {}, { ok: false, returnCode: 5, reason: 'anonymous' }],
    ['a username without password', { username: 'dev-1' }, { ok: false, returnCode: 4, reason: 'no-password' }],
    ['an empty client id without clean session', { ...secret, emptyClientId: true, clean: false }, { ok: false, returnCode: 2, reason: 'empty-client-id' }],
    ['an integration token', { username: 'api', password: 'integration-token', clientId: 'g' },
      { ok: true, principal: { kind: 'integration', tokenId: 't1' }, credentials: [{ kind: 'token', tokenId: 't1' }] }],
    ['an integration token under a device client id', { username: 'api', password: 'integration-token' }, { ok: false, returnCode: 2, reason: 'client-id-of-device' }],
    ['an integration token under a claim client id', { username: 'api', password: 'integration-token', clientId: 'provision-SN-1' },
      { ok: false, returnCode: 2, reason: 'client-id-reserved' }],
    ['a wrong token under a device client id (credentials first)', { username: 'api', password: 'w'.repeat(43) }, { ok: false, returnCode: 4, reason: 'bad-token' }],
    ['a viewer token', { username: 'api', password: 'viewer-token', clientId: 'g' }, { ok: false, returnCode: 5, reason: 'token-role' }],
    ['a password where password logins are off', { ...secret, transport: 'wss' }, { ok: false, returnCode: 5, reason: 'password-auth-off' }],
    ['a claim token', { username: 'claim', password: 'claim-token', clientId: 'provision-SN-1' },
      { ok: true, principal: { kind: 'claim', serial: 'SN-1', template: 'factory', claimId: 'k1' },
        credentials: [{ kind: 'claim', claimId: 'k1' }, { kind: 'template', name: 'factory' }] }],
    ['a claim token under the client id of a device registered before provision- was reserved',
      { username: 'claim', password: 'claim-token', clientId: 'provision-SN-9' }, { ok: false, returnCode: 2, reason: 'client-id-of-device' }],
    ['a wrong claim token', { username: 'claim', password: 'x', clientId: 'provision-SN-1' }, { ok: false, returnCode: 4, reason: 'bad-claim-token' }],
    ['a claim token under a device client id', { username: 'claim', password: 'claim-token', clientId: 'SN-1' }, { ok: false, returnCode: 5, reason: 'claim-client-id' }],
    ['a claim client id with no valid serial', { username: 'claim', password: 'claim-token', clientId: 'provision-a/b' }, { ok: false, returnCode: 5, reason: 'claim-client-id' }],
    ['a device certificate', { peerCertificate: cert('dev1'), transport: 'tls' },
      { ok: true, principal: { kind: 'device', deviceId: 'dev-1' }, credentials: [{ kind: 'certificate', serial: 'aa01' }] }],
    ['a device certificate where password logins are off', { peerCertificate: cert('dev1'), transport: 'wss' },
      { ok: true, principal: { kind: 'device', deviceId: 'dev-1' }, credentials: [{ kind: 'certificate', serial: 'aa01' }] }],
    ['a device certificate with the device id as username', { peerCertificate: cert('dev1'), username: 'dev-1', transport: 'tls' },
      { ok: true, principal: { kind: 'device', deviceId: 'dev-1' }, credentials: [{ kind: 'certificate', serial: 'aa01' }] }],
    ['a device certificate with another username', { peerCertificate: cert('dev1'), username: 'api', password: 'integration-token' },
      { ok: false, returnCode: 5, reason: 'username-mismatch' }],
    ['a device certificate under another client id', { peerCertificate: cert('dev1'), clientId: 'dev-2' }, { ok: false, returnCode: 5, reason: 'client-id-mismatch' }],
    ['a revoked certificate, even with a valid secret', { peerCertificate: cert('revoked'), ...secret }, { ok: false, returnCode: 5, reason: 'certificate-revoked' }],
    ['a claim certificate', { peerCertificate: cert('claim'), clientId: 'provision-SN-1' },
      { ok: true, principal: { kind: 'claim', serial: 'SN-1', template: 'factory', claimId: 'k2' },
        credentials: [{ kind: 'certificate', serial: 'cc01' }, { kind: 'claim', claimId: 'k2' }, { kind: 'template', name: 'factory' }] }],
    ['a claim certificate under the client id of a device registered before provision- was reserved',
      { peerCertificate: cert('claim'), clientId: 'provision-SN-9' }, { ok: false, returnCode: 2, reason: 'client-id-of-device' }],
    ['a claim certificate under a device client id', { peerCertificate: cert('claim'), clientId: 'dev-1' }, { ok: false, returnCode: 5, reason: 'claim-client-id' }],
  ])('%s', async (_name, request, expected) => {
    expect(await authenticate({ ...base, ...request })).toEqual(expected);
  });

  it('admits an anonymous client (when allowed) under any client id but a device\'s or a claim session\'s', async () => {
    const anonymous = createAuthenticator({ registry, tokens: {} as TokenService, allowAnonymous: true });
    expect(await anonymous({ ...base, clientId: 'someone' })).toEqual({ ok: true, principal: { kind: 'anonymous' }, credentials: [] });
    expect(await anonymous({ ...base, clientId: 'dev-1' })).toEqual({ ok: false, returnCode: 2, reason: 'client-id-of-device' });
    expect(await anonymous({ ...base, clientId: 'provision-SN-1' })).toEqual({ ok: false, returnCode: 2, reason: 'client-id-reserved' });
    // An empty client id (clean session 1) gets a generated one, which is nobody's.
    expect(await anonymous({ ...base, clientId: 'aedes_generated', emptyClientId: true })).toMatchObject({ ok: true });
  });

  it('refuses every certificate and claim token when no credential checker is wired', async () => {
    const bare = createAuthenticator({ registry: {} as DeviceRegistry, tokens: {} as TokenService, allowAnonymous: false });
    expect(await bare({ ...base, peerCertificate: cert('dev1') })).toEqual({ ok: false, returnCode: 5, reason: 'certificate-not-accepted' });
    expect(await bare({ ...base, username: 'claim', password: 'claim-token', clientId: 'provision-SN-1' }))
      .toEqual({ ok: false, returnCode: 4, reason: 'bad-claim-token' });
  });
});
