/** The fleet CA's public API; see README.md. Other folders import from here only. */
export { openFleetCa } from './fleet-ca.js';
export type { FleetCa, FleetCaOptions } from './fleet-ca.js';
export type {
  ClaimRequest,
  GenerateDeviceRequest,
  GeneratedCredentials,
  ServerCertificateRequest,
  SignCsrRequest,
} from './issuance.js';
export type { CaFiles } from './ca-store.js';
export { CA_CERT_FILE, CA_KEY_FILE } from './ca-store.js';
export { crlReasons, type CrlReason, type CrlRequest, type RevokedCertificate } from './crl.js';
export type { IssuedCertificate } from './issuer.js';
export { normalizeSerial } from './node-cert.js';
export { CLAIM_URI_PREFIX, DEVICE_URI_PREFIX } from './profiles.js';
export {
  DEFAULT_SERVER_HOSTNAMES,
  ensureServerCertificate,
  loadServerCertificate,
  SERVER_CERT_FILE,
  SERVER_KEY_FILE,
} from './server-cert.js';
export type { EnsureServerOptions, ServerCredentials } from './server-cert.js';
export { CertSetupError, type CertSetupReason } from './setup-error.js';
export type { ClientIdentity } from './verify.js';
