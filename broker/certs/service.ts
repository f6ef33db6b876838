/**
 * Device certificates: issue (from a CSR or with a generated key), list, revoke, and the CRL. The
 * REST routes and the MQTT rotation topic both call this; the CA itself is `certs/`.
 *
 * Revocation takes effect at the next CONNECT (authentication looks the serial up in the store)
 * and drops the live connections that logged in with the certificate at once.
 */
import { BatonError } from '../../device-sdk/protocol/index.js';
import { normalizeSerial, type CrlReason, type FleetCa, type IssuedCertificate } from '../../certs/index.js';
import { newSecret } from '../auth/secrets.js';
import type { Credential } from '../mqtt/principal.js';
import type { DeviceRepo } from '../store/types.js';
import type { CertificateRecord, CertificateSource, CertificateStore, NewCertificate } from './store.js';

/** What the broker offers to drop connections by certificate, claim credential or template (broker.ts). */
export interface CertificateSessions {
  disconnectCredential(credential: Credential): number;
}

export interface CertificateServiceDeps {
  ca: FleetCa;
  store: CertificateStore;
  devices: DeviceRepo;
  sessions: CertificateSessions;
  lifetimeDays: number;
  clock: () => Date;
  onIssued?: (source: CertificateSource) => void;
  onRevoked?: (reason: CrlReason) => void;
}

export type CertificateStatus = 'active' | 'revoked' | 'expired';
export type CertificateView = Omit<CertificateRecord, 'certificatePem' | 'kind' | 'deviceId' | 'template'> & {
  status: CertificateStatus;
  certificate: string;
};

/** A CRL lists what is revoked; verifiers may cache it this long (its nextUpdate). */
const CRL_NEXT_UPDATE_HOURS = 24;
/** Rebuilt before then, so a cached copy never reaches its nextUpdate. */
const CRL_MAX_AGE_MS = 3_600_000;

export function createCertificateService(deps: CertificateServiceDeps) {
  const { ca, store, clock } = deps;
  let crl: { pem: string; builtAt: number; key: string } | undefined;

  const view = ({ certificatePem, kind: _k, deviceId: _d, template: _t, ...rest }: CertificateRecord): CertificateView => ({
    ...rest,
    status: rest.revokedAt !== null ? 'revoked' : Date.parse(rest.notAfter) < clock().getTime() ? 'expired' : 'active',
    certificate: certificatePem,
  });

  async function requireDevice(deviceId: string): Promise<void> {
    if (!(await deps.devices.get(deviceId))) throw new BatonError('NotFound', `device ${deviceId} does not exist`);
  }

  /** Stores an issued certificate; until then it is unknown and refused at CONNECT. */
  async function record(issued: IssuedCertificate, meta: Pick<NewCertificate, 'kind' | 'deviceId' | 'template' | 'source'>) {
    const row: NewCertificate = {
      ...meta,
      serial: normalizeSerial(issued.serial),
      fingerprintSha256: issued.fingerprintSha256,
      notBefore: issued.notBefore.toISOString(),
      notAfter: issued.notAfter.toISOString(),
      issuedAt: clock().toISOString(),
      certificatePem: issued.certificatePem,
    };
    await store.certificates.add(row);
    deps.onIssued?.(meta.source);
    return view({ ...row, revokedAt: null, revocationReason: null });
  }

  const deviceMeta = (deviceId: string, source: CertificateSource) => ({ kind: 'device' as const, deviceId, template: null, source });

  return {
    caPem: ca.chainPem,
    lifetimeDays: deps.lifetimeDays,
    record,

    /** REST `{ csr }` and MQTT rotation. Refusals: InvalidCsr, WeakKey, CsrSubjectMismatch. */
    async issueFromCsr(deviceId: string, csrPem: string, source: 'csr' | 'rotation'): Promise<CertificateView> {
      await requireDevice(deviceId);
      const issued = await ca.signCsr({ csrPem, deviceId, lifetimeDays: deps.lifetimeDays });
      return record(issued, deviceMeta(deviceId, source));
    },

    /** REST `{ generateKey: true }`: the key is returned once, as PEM and PKCS#12, and never stored. */
    async generate(deviceId: string, pkcs12Password = newSecret()) {
      await requireDevice(deviceId);
      const issued = await ca.generateDeviceCredentials({ deviceId, password: pkcs12Password, lifetimeDays: deps.lifetimeDays });
      const certificate = await record(issued, deviceMeta(deviceId, 'generated'));
      return { ...certificate, privateKey: issued.privateKeyPem, pkcs12: issued.pkcs12Base64, pkcs12Password };
    },

    async list(deviceId: string): Promise<CertificateView[]> {
      await requireDevice(deviceId);
      return (await store.certificates.listForDevice(deviceId)).map(view);
    },

    /** Idempotent; NotFound unless the serial is one of this device's certificates. */
    async revoke(deviceId: string, serial: string, reason: CrlReason): Promise<CertificateView> {
      const normalized = normalizeSerial(serial);
      const found = await store.certificates.get(normalized);
      if (found?.kind !== 'device' || found.deviceId !== deviceId) {
        throw new BatonError('NotFound', `device ${deviceId} has no certificate ${normalized}`);
      }
      return view(await revokeSerial(normalized, reason));
    },
    revokeSerial,

    /** The current CRL (PEM), rebuilt when a revocation changed it or it is an hour old. */
    async crl(): Promise<string> {
      const now = clock();
      const revoked = await store.certificates.revokedUnexpired(now);
      const key = revoked.map((r) => r.serial).sort().join();
      if (crl && crl.key === key && now.getTime() - crl.builtAt < CRL_MAX_AGE_MS) return crl.pem;
      const pem = await ca.buildCrl({ revoked, now, nextUpdateHours: CRL_NEXT_UPDATE_HOURS });
      crl = { pem, builtAt: now.getTime(), key };
      return pem;
    },
  };

  /** Marks the serial revoked and drops its connections; the record, or NotFound. */
  async function revokeSerial(serial: string, reason: CrlReason): Promise<CertificateRecord> {
    const before = await store.certificates.get(serial);
    const revoked = await store.certificates.revoke(serial, clock(), reason);
    if (!revoked) throw new BatonError('NotFound', `no certificate ${serial}`);
    if (before?.revokedAt === null) deps.onRevoked?.(reason);
    deps.sessions.disconnectCredential({ kind: 'certificate', serial });
    return revoked;
  }
}

export type CertificateService = ReturnType<typeof createCertificateService>;
