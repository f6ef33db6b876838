/**
 * Certificate checks done with node:crypto's X509Certificate, i.e. by OpenSSL: the same code
 * that will accept or refuse the certificate in the TLS handshake, so the two cannot disagree.
 */
import { createHash, X509Certificate } from 'node:crypto';

/** Parses PEM, or passes an already parsed certificate through. */
export function toX509(cert: string | X509Certificate): X509Certificate {
  return typeof cert === 'string' ? new X509Certificate(cert) : cert;
}

/** notBefore and notAfter as Dates (Node 20 exposes them only as OpenSSL's text form). */
export function validityOf(cert: X509Certificate): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
}

export function isWithinValidity(cert: X509Certificate, now: Date): boolean {
  const { notBefore, notAfter } = validityOf(cert);
  return notBefore.getTime() <= now.getTime() && now.getTime() <= notAfter.getTime();
}

/** True when `cert` names `issuer` as its issuer (name and key ids) and its signature verifies. */
export function isIssuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

/**
 * A serial number in Baton's one spelling: lowercase hex, no separators, no leading zero bytes
 * (the DER sign byte is not part of the number). OpenSSL prints `0A:1B` or `0A1B`; we say `0a1b`.
 */
export function normalizeSerial(serial: string): string {
  const hex = serial.toLowerCase().replace(/[:\s]/g, '');
  return (hex.length % 2 ? `0${hex}` : hex).replace(/^(00)+(?=[0-9a-f]{2})/, '');
}

/** SHA-256 of a DER certificate, lowercase hex without separators. */
export function fingerprintSha256(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}
