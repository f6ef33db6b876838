/**
 * The CONNECT-time checks of client certificates and claim tokens (`ClientCredentials` for
 * `broker/mqtt/authenticate.ts`).
 *
 * The TLS handshake has already chained the certificate to the fleet CA; here the CA reads whose
 * it is (and re-checks it on our clock), then the store decides whether it is still good: a
 * certificate must be one we issued and recorded, not revoked, and its device must exist and not
 * be pending approval. Looking the serial up at every CONNECT is what makes a revocation effective
 * at once, with no CRL to distribute to the listener.
 */
import type { X509Certificate } from 'node:crypto';
import type { ClientIdentity, FleetCa } from '../../certs/index.js';
import type { SecretHasher } from '../auth/secrets.js';
import type { CertificateCheck, ClientCredentials } from '../mqtt/authenticate.js';
import type { CertificateRecord, CertificateStore } from './store.js';

export interface CredentialsDeps {
  ca: FleetCa;
  store: CertificateStore;
  hasher: SecretHasher;
}

const refused = (reason: string): CertificateCheck => ({ ok: false, reason });

export function createClientCredentials({ ca, store, hasher }: CredentialsDeps): ClientCredentials {
  async function checkDevice(identity: ClientIdentity & { kind: 'device' }, record: CertificateRecord): Promise<CertificateCheck> {
    if (record.kind !== 'device' || record.deviceId !== identity.deviceId) return refused('certificate-unknown');
    const state = await store.provisioning.approvalState(identity.deviceId);
    if (state === undefined) return refused('device-unknown');
    if (state === 'pending') return refused('device-pending');
    return { ok: true, identity: { kind: 'device', deviceId: identity.deviceId, serial: identity.serial } };
  }

  async function checkClaim(identity: ClientIdentity & { kind: 'claim' }, record: CertificateRecord): Promise<CertificateCheck> {
    if (record.kind !== 'claim' || record.template !== identity.templateName) return refused('certificate-unknown');
    // The claim credential this certificate is: gone with its template, or revoked with the claim.
    const claim = await store.claims.findByCertificate(identity.serial);
    if (!claim || claim.template !== identity.templateName) return refused('certificate-unknown');
    if (claim.revokedAt !== null) return refused('certificate-revoked');
    return { ok: true, identity: { kind: 'claim', template: identity.templateName, serial: identity.serial, claimId: claim.id } };
  }

  return {
    async checkCertificate(cert: X509Certificate): Promise<CertificateCheck> {
      let identity: ClientIdentity;
      try {
        identity = ca.verifyClientCertificate(cert);
      } catch {
        return refused('certificate-invalid');
      }
      const record = await store.certificates.get(identity.serial);
      if (!record) return refused('certificate-unknown');
      if (record.revokedAt !== null) return refused('certificate-revoked');
      return identity.kind === 'device' ? checkDevice(identity, record) : checkClaim(identity, record);
    },

    async claim(token: string): Promise<{ id: string; template: string } | undefined> {
      if (token.length < 32 || token.length > 256) return undefined;
      const claim = await store.claims.findByTokenHash(hasher.hash(token));
      return claim && { id: claim.id, template: claim.template };
    },
  };
}
