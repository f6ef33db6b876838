/**
 * What the certificate and provisioning services need from the store. Services depend on this,
 * never on SQL (the SQLite implementation is `broker/store/sqlite/certificates.ts`).
 */
import type { JsonObject } from '../../device-sdk/protocol/index.js';
import type { CrlReason, RevokedCertificate } from '../../certs/index.js';

export type CertificateKind = 'device' | 'claim';
/** How a certificate came to be: REST with a CSR or a generated key, MQTT rotation, provisioning, a claim. */
export type CertificateSource = 'csr' | 'generated' | 'rotation' | 'provisioning' | 'claim';

export interface CertificateRecord {
  /** Lowercase hex, no separators. */
  serial: string;
  kind: CertificateKind;
  deviceId: string | null;
  template: string | null;
  source: CertificateSource;
  fingerprintSha256: string;
  notBefore: string;
  notAfter: string;
  issuedAt: string;
  certificatePem: string;
  revokedAt: string | null;
  revocationReason: CrlReason | null;
}

export type NewCertificate = Omit<CertificateRecord, 'revokedAt' | 'revocationReason'>;

export interface CertificateRepo {
  add(record: NewCertificate): Promise<void>;
  get(serial: string): Promise<CertificateRecord | undefined>;
  /** Newest first. */
  listForDevice(deviceId: string): Promise<CertificateRecord[]>;
  /** Marks it revoked unless it already is; undefined when there is no such certificate. */
  revoke(serial: string, at: Date, reason: CrlReason): Promise<CertificateRecord | undefined>;
  /** Revoked certificates still within their validity: what a CRL must list. */
  revokedUnexpired(now: Date): Promise<RevokedCertificate[]>;
  /** Devices whose newest unrevoked certificate expires before `cutoff` (or has expired). */
  countDevicesExpiringBefore(cutoff: Date): Promise<number>;
}

export interface TemplateRecord {
  name: string;
  /** Device classes a registration may name; null admits any. */
  deviceClasses: string[] | null;
  site: string | null;
  tags: string[];
  attributes: JsonObject;
  /** Hardware serials that may register; null admits any. */
  allowedSerials: string[] | null;
  requireApproval: boolean;
  createdAt: string;
}

export interface TemplateRepo {
  /** Throws `Conflict` when the name is taken. */
  create(template: TemplateRecord): Promise<TemplateRecord>;
  get(name: string): Promise<TemplateRecord | undefined>;
  list(): Promise<TemplateRecord[]>;
  /** Deletes the template and its claim credentials; false when there is no such template. */
  delete(name: string): Promise<boolean>;
}

export type ClaimKind = 'token' | 'certificate';

export interface ClaimRecord {
  id: string;
  template: string;
  kind: ClaimKind;
  certificateSerial: string | null;
  createdAt: string;
  revokedAt: string | null;
}

export interface ClaimRepo {
  /** Rejects with NotFound when the template does not exist (e.g. deleted while the claim was issued). */
  create(claim: Omit<ClaimRecord, 'revokedAt'> & { tokenHash: Buffer | null }): Promise<ClaimRecord>;
  /** The unrevoked claim whose token has this hash. */
  findByTokenHash(hash: Buffer): Promise<ClaimRecord | undefined>;
  findByCertificate(serial: string): Promise<ClaimRecord | undefined>;
  /** The claim (revoked or not), or undefined when the template has no such claim. */
  get(template: string, id: string): Promise<ClaimRecord | undefined>;
  list(template: string): Promise<ClaimRecord[]>;
  /** Marks it revoked (once); undefined when the template has no such claim. */
  revoke(template: string, id: string, at: Date): Promise<ClaimRecord | undefined>;
}

export interface Registration {
  serial: string;
  template: string;
  deviceId: string;
  registeredAt: string;
}

export type ApprovalState = 'active' | 'pending';

export interface ProvisioningRepo {
  registration(serial: string): Promise<Registration | undefined>;
  /** Throws `AlreadyProvisioned` when the serial has registered before. */
  addRegistration(registration: Registration): Promise<void>;
  removeRegistration(serial: string): Promise<void>;
  /** undefined when the device does not exist. */
  approvalState(deviceId: string): Promise<ApprovalState | undefined>;
  /** False when the device does not exist. */
  setApprovalState(deviceId: string, state: ApprovalState): Promise<boolean>;
}

export interface CertificateStore {
  certificates: CertificateRepo;
  templates: TemplateRepo;
  claims: ClaimRepo;
  provisioning: ProvisioningRepo;
}
