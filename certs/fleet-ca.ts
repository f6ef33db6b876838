/**
 * The fleet certificate authority: one object built once at start (`openFleetCa`) whose methods
 * the broker's TLS listener, MQTT certificate topics and REST routes call.
 *
 * Every method takes an optional `now`; without it the `clock` option decides, so expiry and
 * CRL windows are tested on a fake clock.
 */
import type { X509Certificate } from 'node:crypto';
import { loadOrCreateCa, type CaFiles } from './ca-store.js';
import { buildCrl, type CrlRequest } from './crl.js';
import {
  generateDeviceCredentials,
  issueClaimCertificate,
  issueServerCertificate,
  signCsr,
  type ClaimRequest,
  type GenerateDeviceRequest,
  type GeneratedCredentials,
  type IssuingContext,
  type ServerCertificateRequest,
  type SignCsrRequest,
} from './issuance.js';
import { issuerFromCertificate, type IssuedCertificate } from './issuer.js';
import { verifyClientCertificate, verifyDeviceCertificate, type ClientIdentity } from './verify.js';

export interface FleetCaOptions {
  /** Data directory of a CA created by Baton (and of the server certificate, see server-cert.ts). */
  dir: string;
  /** Encrypts the key of a created CA; required to load an encrypted key. Empty means none. */
  passphrase?: string;
  /** An operator's CA (often an intermediate) to use instead of creating one in `dir`. */
  existing?: CaFiles;
  /** Common name of a created CA. Default `Baton Fleet CA`. */
  commonName?: string;
  clock?: () => Date;
}

export interface FleetCa {
  /** The issuing CA certificate. */
  readonly certificate: X509Certificate;
  /** Every certificate of the CA file: the trust bundle (`ca`) for TLS servers and devices. */
  readonly chainPem: string;
  /** The CA file's certificates that are not self-signed: sent after a leaf in TLS. */
  readonly intermediatesPem: string;
  /** True when this start created the CA. */
  readonly created: boolean;
  /** The injected clock, for callers that need the CA's idea of now. */
  readonly clock: () => Date;
  signCsr(request: SignCsrRequest): Promise<IssuedCertificate>;
  generateDeviceCredentials(request: GenerateDeviceRequest): Promise<GeneratedCredentials & { pkcs12Base64: string }>;
  issueClaimCertificate(request: ClaimRequest): Promise<GeneratedCredentials>;
  issueServerCertificate(request: ServerCertificateRequest): Promise<GeneratedCredentials>;
  buildCrl(request: Omit<CrlRequest, 'now'> & { now?: Date }): Promise<string>;
  verifyClientCertificate(cert: string | X509Certificate, now?: Date): ClientIdentity;
  verifyDeviceCertificate(cert: string | X509Certificate, now?: Date): string;
}

export async function openFleetCa(options: FleetCaOptions): Promise<FleetCa> {
  const clock = options.clock ?? (() => new Date());
  const { commonName = 'Baton Fleet CA', ...rest } = options;
  const { chain, key, created } = await loadOrCreateCa({ ...rest, commonName, now: clock() });
  const [certificate] = chain;
  const chainPem = chain.map(String);
  const context: IssuingContext = { issuer: await issuerFromCertificate(certificate.toString(), key), chainPem, clock };

  return {
    certificate,
    chainPem: chainPem.join(''),
    intermediatesPem: chain.filter((cert) => !cert.checkIssued(cert)).map(String).join(''),
    created,
    clock,
    signCsr: (request) => signCsr(context, request),
    generateDeviceCredentials: (request) => generateDeviceCredentials(context, request),
    issueClaimCertificate: (request) => issueClaimCertificate(context, request),
    issueServerCertificate: (request) => issueServerCertificate(context, request),
    buildCrl: ({ now = clock(), ...request }) => buildCrl(context.issuer, { ...request, now }),
    verifyClientCertificate: (cert, now = clock()) => verifyClientCertificate(certificate, cert, now),
    verifyDeviceCertificate: (cert, now = clock()) => verifyDeviceCertificate(certificate, cert, now),
  };
}
