/**
 * Certificate revocation lists, signed by the CA key with @peculiar/x509 (node:crypto and
 * node-forge cannot produce CRLs). The broker serves the PEM; verifiers load it next to the CA.
 */
import type { Extension } from '@peculiar/x509';
import { x509 } from '../device-sdk/csr.js';
import { BatonError } from '../device-sdk/protocol/errors.js';
import type { Issuer } from './issuer.js';
import { normalizeSerial } from './node-cert.js';

/** RFC 5280 §5.3.1 reason codes Baton uses. */
export const crlReasons = {
  unspecified: 0,
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  privilegeWithdrawn: 9,
} as const;
export type CrlReason = keyof typeof crlReasons;

export interface RevokedCertificate {
  /** Hex serial, any case, `:` separators allowed. */
  serial: string;
  revokedAt: Date;
  /** Default `unspecified`. */
  reason?: CrlReason;
}

export interface CrlRequest {
  revoked: readonly RevokedCertificate[];
  now: Date;
  /** How long verifiers may cache this CRL: its nextUpdate is now + this. Default 24. */
  nextUpdateHours?: number;
}

const OID = { crlNumber: '2.5.29.20', reasonCode: '2.5.29.21' };
const TAG = { integer: 0x02, enumerated: 0x0a };
const HOUR_MS = 3_600_000;

/** DER INTEGER or ENUMERATED of a non-negative safe integer. */
function derUnsigned(tag: number, n: number): Uint8Array {
  const hex = n.toString(16);
  const bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  const content = (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.of(0), bytes]) : bytes;
  return Buffer.concat([Buffer.of(tag, content.length), content]);
}

/**
 * RFC 5280 §5.2.3 requires a monotonically increasing CRL number. Seconds since the epoch of
 * thisUpdate are one without storing a counter, as long as the clock only moves forward.
 */
function crlNumber(now: Date): Extension {
  return new x509.Extension(OID.crlNumber, false, derUnsigned(TAG.integer, Math.floor(now.getTime() / 1000)));
}

/**
 * Every entry carries its reason code, even `unspecified`, which RFC 5280 §5.3.1 says SHOULD be
 * left out: without an extension @peculiar/x509 2.2 writes an empty crlEntryExtensions SEQUENCE,
 * which breaks the MUST of `Extensions ::= SEQUENCE SIZE (1..MAX)`. This is the lesser deviation.
 */
function entries(revoked: readonly RevokedCertificate[]) {
  const bySerial = new Map<string, RevokedCertificate>();
  for (const entry of revoked) {
    const serial = normalizeSerial(entry.serial);
    if (!/^[0-9a-f]+$/.test(serial)) throw new BatonError('InvalidRequest', `Invalid serial: ${entry.serial}`);
    bySerial.set(serial, entry);
  }
  return [...bySerial].map(([serialNumber, { revokedAt, reason = 'unspecified' }]) => ({
    serialNumber,
    revocationDate: revokedAt,
    extensions: [new x509.Extension(OID.reasonCode, false, derUnsigned(TAG.enumerated, crlReasons[reason]))],
  }));
}

/** A PEM CRL (v2) with one entry per distinct serial. */
export async function buildCrl(issuer: Issuer, { revoked, now, nextUpdateHours = 24 }: CrlRequest): Promise<string> {
  if (!(nextUpdateHours > 0)) throw new BatonError('InvalidRequest', 'nextUpdateHours must be positive.');
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuer.name,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + nextUpdateHours * HOUR_MS),
    entries: entries(revoked),
    signingKey: issuer.signer.keys.privateKey,
    signingAlgorithm: issuer.signer.signingAlgorithm,
    extensions: [new x509.AuthorityKeyIdentifierExtension(issuer.keyId), crlNumber(now)],
  });
  // RFC 7468 §5 labels a CRL `X509 CRL`; the library writes `CRL`, which OpenSSL cannot load.
  return `${x509.PemConverter.encode(crl.rawData, 'X509 CRL')}\n`;
}
