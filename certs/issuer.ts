/**
 * The one issuing path. Every certificate Baton makes (its own root, device and claim
 * certificates, the broker's server certificate) goes through `issueCertificate`, built with
 * @peculiar/x509 over Node's WebCrypto. Why this library and only this one:
 * - node:crypto verifies certificates but cannot create them;
 * - node-forge cannot parse or sign with EC keys (our CA key is ECDSA P-256) and has no CRLs;
 * - a single path means a single place for serials, validity and key identifiers.
 */
import { createPublicKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import type { Extension, JsonName, Name } from '@peculiar/x509';
import { toWebCryptoSigner, x509, type WebCryptoSigner } from '../device-sdk/csr.js';
import { BatonError } from '../device-sdk/protocol/errors.js';
import { fingerprintSha256 } from './node-cert.js';

/** Who signs: the CA's name and key, as every issued certificate must name them. */
export interface Issuer {
  name: Name | JsonName;
  /** Hex key id written as the authority key identifier of everything this issuer signs. */
  keyId: string;
  signer: WebCryptoSigner;
  /** Nothing issued outlives the issuer: later notAfter values are cut to this. */
  notAfter?: Date;
}

export interface IssueRequest {
  commonName: string;
  /** DER SubjectPublicKeyInfo of the key being certified. */
  spki: ArrayBuffer | Uint8Array;
  extensions: Extension[];
  now: Date;
  lifetimeDays: number;
}

export interface IssuedCertificate {
  certificatePem: string;
  /** Lowercase hex, no separators (see `normalizeSerial`). */
  serial: string;
  /** SHA-256 of the DER certificate, lowercase hex. */
  fingerprintSha256: string;
  notBefore: Date;
  notAfter: Date;
}

const DAY_MS = 86_400_000;
export const MAX_LIFETIME_DAYS = 3650;
/** notBefore is set this far back so a device whose clock runs a little slow accepts its cert. */
const CLOCK_SKEW_MS = 5 * 60_000;

export function spkiOf(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
async function keyIdOf(spki: ArrayBuffer | Uint8Array): Promise<string> {
  return (await x509.SubjectKeyIdentifierExtension.create(new x509.PublicKey(spki))).keyId;
}

/** The issuer for a certificate the key signs itself (our own root). */
export async function selfIssuer(commonName: string, key: KeyObject): Promise<Issuer> {
  return { name: [{ CN: [commonName] }], keyId: await keyIdOf(spkiOf(key)), signer: await toWebCryptoSigner(key) };
}

/**
 * The issuer for an existing CA certificate. Its own subject key identifier is reused when it
 * has one, because an operator's CA may compute it otherwise and OpenSSL refuses a chain whose
 * authority key identifier does not match the issuer's subject key identifier.
 */
export async function issuerFromCertificate(caPem: string, key: KeyObject): Promise<Issuer> {
  const ca = new x509.X509Certificate(caPem);
  const ski = ca.getExtension(x509.SubjectKeyIdentifierExtension);
  const keyId = ski?.keyId ?? (await keyIdOf(ca.publicKey.rawData));
  return { name: ca.subjectName, keyId, signer: await toWebCryptoSigner(key), notAfter: ca.notAfter };
}

function validity(issuer: Issuer, now: Date, lifetimeDays: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isInteger(lifetimeDays) || lifetimeDays < 1 || lifetimeDays > MAX_LIFETIME_DAYS) {
    throw new BatonError('InvalidRequest', `lifetimeDays must be an integer from 1 to ${MAX_LIFETIME_DAYS}.`);
  }
  const wanted = now.getTime() + lifetimeDays * DAY_MS;
  const notAfter = new Date(Math.min(wanted, issuer.notAfter?.getTime() ?? wanted));
  return { notBefore: new Date(now.getTime() - CLOCK_SKEW_MS), notAfter };
}

/** Signs a certificate for `request.spki` with a fresh random 128-bit serial (CA/B BR §7.1). */
export async function issueCertificate(issuer: Issuer, request: IssueRequest): Promise<IssuedCertificate> {
  const { notBefore, notAfter } = validity(issuer, request.now, request.lifetimeDays);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(16).toString('hex'),
    subject: [{ CN: [request.commonName] }],
    issuer: issuer.name,
    notBefore,
    notAfter,
    publicKey: request.spki,
    signingKey: issuer.signer.keys.privateKey,
    signingAlgorithm: issuer.signer.signingAlgorithm,
    extensions: [
      ...request.extensions,
      new x509.SubjectKeyIdentifierExtension(await keyIdOf(request.spki)),
      new x509.AuthorityKeyIdentifierExtension(issuer.keyId),
    ],
  });
  return {
    // OpenSSL's PEM spelling (with the final newline the library omits), so PEMs concatenate into
    // bundles and compare equal to what node:crypto prints.
    certificatePem: new X509Certificate(new Uint8Array(cert.rawData)).toString(),
    serial: cert.serialNumber.toLowerCase(),
    fingerprintSha256: fingerprintSha256(new Uint8Array(cert.rawData)),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}
