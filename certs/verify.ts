/**
 * The broker's after-handshake decision: which device (or which provisioning template) a client
 * certificate stands for. The TLS stack has already checked the chain when `requestCert` is on;
 * this repeats the checks on the injected clock, so it also serves tests and non-TLS paths
 * (a certificate forwarded by a TLS-terminating proxy).
 */
import type { X509Certificate } from 'node:crypto';
import { BatonError } from '../device-sdk/protocol/errors.js';
import { isDeviceId, TOPIC_SEGMENT_PATTERN } from '../device-sdk/protocol/topics.js';
import { isIssuedBy, isWithinValidity, normalizeSerial, toX509, validityOf } from './node-cert.js';
import { CLAIM_URI_PREFIX, claimCommonName, DEVICE_URI_PREFIX } from './profiles.js';

interface Verified {
  serial: string;
  notAfter: Date;
}
export type ClientIdentity =
  | (Verified & { kind: 'device'; deviceId: string })
  | (Verified & { kind: 'claim'; templateName: string });

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

const unauthorized = (why: string): BatonError => new BatonError('Unauthorized', `Client certificate ${why}.`);

function parse(cert: string | X509Certificate): X509Certificate {
  try {
    return toX509(cert);
  } catch {
    throw unauthorized('is not a valid X.509 certificate');
  }
}

/** Reads the identity from the single URI SAN, and requires the CN to agree with it. */
function identityOf(leaf: X509Certificate): ClientIdentity {
  const san = leaf.subjectAltName ?? '';
  const verified = { serial: normalizeSerial(leaf.serialNumber), notAfter: validityOf(leaf).notAfter };
  const deviceId = san.slice(`URI:${DEVICE_URI_PREFIX}`.length);
  if (san.startsWith(`URI:${DEVICE_URI_PREFIX}`) && isDeviceId(deviceId) && leaf.subject === `CN=${deviceId}`) {
    return { kind: 'device', deviceId, ...verified };
  }
  const templateName = san.slice(`URI:${CLAIM_URI_PREFIX}`.length);
  const isClaim = san.startsWith(`URI:${CLAIM_URI_PREFIX}`) && TOPIC_SEGMENT_PATTERN.test(templateName);
  if (isClaim && leaf.subject === `CN=${claimCommonName(templateName)}`) {
    return { kind: 'claim', templateName, ...verified };
  }
  throw unauthorized('carries no Baton device or claim identity');
}

/** Chained to `ca`, valid at `now`, a clientAuth end-entity certificate: whose is it? */
export function verifyClientCertificate(
  ca: X509Certificate,
  cert: string | X509Certificate,
  now: Date,
): ClientIdentity {
  const leaf = parse(cert);
  if (!isIssuedBy(leaf, ca)) throw unauthorized('is not issued by the fleet CA');
  if (!isWithinValidity(leaf, now)) throw unauthorized('is expired or not yet valid');
  if (leaf.ca || !leaf.keyUsage?.includes(CLIENT_AUTH_OID)) throw unauthorized('is not for client authentication');
  return identityOf(leaf);
}

/** As `verifyClientCertificate`, but only a device certificate will do: returns the device id. */
export function verifyDeviceCertificate(ca: X509Certificate, cert: string | X509Certificate, now: Date): string {
  const identity = verifyClientCertificate(ca, cert, now);
  if (identity.kind !== 'device') {
    throw new BatonError('Forbidden', 'A claim certificate may only be used to provision a device.');
  }
  return identity.deviceId;
}
