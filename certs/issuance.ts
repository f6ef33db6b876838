/**
 * The certificates the fleet CA hands out, one function each: a device certificate for a CSR,
 * device credentials with a generated key, a claim certificate, the broker's server certificate.
 * All of them go through the one issuing path (`issuer.ts`).
 */
import { BatonError } from '../device-sdk/protocol/errors.js';
import { isDeviceId, TOPIC_SEGMENT_PATTERN } from '../device-sdk/protocol/topics.js';
import { acceptCsr } from './csr-policy.js';
import { issueCertificate, spkiOf, type IssuedCertificate, type Issuer, type IssueRequest } from './issuer.js';
import { generateEcKey, privateKeyToPem } from './pem-files.js';
import { buildPkcs12 } from './pkcs12.js';
import {
  CLAIM_URI_PREFIX,
  claimCommonName,
  clientExtensions,
  DEVICE_URI_PREFIX,
  serverExtensions,
} from './profiles.js';

export interface IssuingContext {
  issuer: Issuer;
  /** PEM of the CA file's certificates, bundled after the leaf in PKCS#12 files. */
  chainPem: readonly string[];
  clock: () => Date;
}

interface When {
  /** Default 365 days; never past the CA's own notAfter. */
  lifetimeDays?: number;
  now?: Date;
}
export interface SignCsrRequest extends When {
  csrPem: string;
  deviceId: string;
}
export interface GenerateDeviceRequest extends When {
  deviceId: string;
  /** Protects the PKCS#12 bundle. */
  password: string;
}
export interface ClaimRequest extends When {
  templateName: string;
  /** When given, a PKCS#12 bundle protected by it is returned too. */
  password?: string;
}
export interface ServerCertificateRequest extends When {
  hostnames: readonly string[];
}
/** A certificate with a key generated here. The private key is returned once and never stored. */
export interface GeneratedCredentials extends IssuedCertificate {
  privateKeyPem: string;
  pkcs12Base64?: string;
}

const DEFAULT_LIFETIME_DAYS = 365;

function validity(context: IssuingContext, { now, lifetimeDays }: When) {
  return { now: now ?? context.clock(), lifetimeDays: lifetimeDays ?? DEFAULT_LIFETIME_DAYS };
}

function requireDeviceId(deviceId: string): void {
  if (!isDeviceId(deviceId)) throw new BatonError('InvalidRequest', `Invalid device id: ${deviceId}`);
}

/** Checked before issuing, so a refused request leaves no certificate behind. */
function requirePassword(password: string | undefined): void {
  if (password === '') throw new BatonError('InvalidRequest', 'The PKCS#12 password must not be empty.');
}

interface NewKey {
  credentials: GeneratedCredentials;
  /** Bundles the key, its certificate and the CA chain into a base64 PKCS#12. */
  pkcs12(password: string): string;
}

/** Devices, claims and the broker all get ECDSA P-256 keys, which fit in PKCS#12 (pkcs12.ts). */
async function issueWithNewKey(context: IssuingContext, request: Omit<IssueRequest, 'spki'>): Promise<NewKey> {
  const key = generateEcKey();
  const issued = await issueCertificate(context.issuer, { ...request, spki: spkiOf(key) });
  const certificatesPem = [issued.certificatePem, ...context.chainPem];
  return {
    credentials: { ...issued, privateKeyPem: privateKeyToPem(key) },
    pkcs12: (password) => buildPkcs12({ privateKey: key, certificatesPem, password, friendlyName: request.commonName }),
  };
}

export async function signCsr(context: IssuingContext, request: SignCsrRequest): Promise<IssuedCertificate> {
  const { csrPem, deviceId } = request;
  requireDeviceId(deviceId);
  const { spki, rsaKey } = await acceptCsr(csrPem, deviceId);
  const extensions = clientExtensions(`${DEVICE_URI_PREFIX}${deviceId}`, rsaKey);
  return issueCertificate(context.issuer, { commonName: deviceId, spki, extensions, ...validity(context, request) });
}

export async function generateDeviceCredentials(
  context: IssuingContext,
  request: GenerateDeviceRequest,
): Promise<GeneratedCredentials & { pkcs12Base64: string }> {
  const { deviceId, password } = request;
  requireDeviceId(deviceId);
  requirePassword(password);
  const extensions = clientExtensions(`${DEVICE_URI_PREFIX}${deviceId}`, false);
  const { credentials, pkcs12 } = await issueWithNewKey(context, {
    commonName: deviceId,
    extensions,
    ...validity(context, request),
  });
  return { ...credentials, pkcs12Base64: pkcs12(password) };
}

export async function issueClaimCertificate(
  context: IssuingContext,
  request: ClaimRequest,
): Promise<GeneratedCredentials> {
  const { templateName, password } = request;
  if (!TOPIC_SEGMENT_PATTERN.test(templateName)) {
    throw new BatonError('InvalidRequest', `Invalid template name: ${templateName}`);
  }
  requirePassword(password);
  const commonName = claimCommonName(templateName);
  const extensions = clientExtensions(`${CLAIM_URI_PREFIX}${templateName}`, false);
  const { credentials, pkcs12 } = await issueWithNewKey(context, {
    commonName,
    extensions,
    ...validity(context, request),
  });
  return password === undefined ? credentials : { ...credentials, pkcs12Base64: pkcs12(password) };
}

export async function issueServerCertificate(
  context: IssuingContext,
  request: ServerCertificateRequest,
): Promise<GeneratedCredentials> {
  const extensions = serverExtensions(request.hostnames);
  const commonName = request.hostnames[0] ?? '';
  const { credentials } = await issueWithNewKey(context, { commonName, extensions, ...validity(context, request) });
  return credentials;
}
