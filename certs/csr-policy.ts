/**
 * What the fleet CA accepts in a device's CSR. Checks run from the cheapest to the most specific,
 * each with its own stable code: PEM and DER shape (InvalidCsr), key type and size (WeakKey),
 * self-signature (InvalidCsr), subject (CsrSubjectMismatch).
 *
 * Only the public key and the CN are taken from a CSR. Requested extensions and other subject
 * attributes are ignored: the CA writes the whole profile itself (`profiles.ts`).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Pkcs10CertificateRequest } from '@peculiar/x509';
import { keyKind, x509 } from '../device-sdk/csr.js';
import { BatonError } from '../device-sdk/protocol/errors.js';

export interface AcceptedCsr {
  /** DER SubjectPublicKeyInfo of the device's key. */
  spki: ArrayBuffer;
  rsaKey: boolean;
}

/** A CSR is a few hundred bytes (RSA-4096: ~1.7 KB); anything far larger is not one. */
const MAX_CSR_CHARS = 16 * 1024;
const CSR_PEM = new RegExp(
  String.raw`^\s*-----BEGIN (NEW )?CERTIFICATE REQUEST-----\r?\n([A-Za-z0-9+/=\r\n]+)` +
    String.raw`-----END (NEW )?CERTIFICATE REQUEST-----\s*$`,
);
const MIN_RSA_BITS = 2048;

function parseCsr(csrPem: string): Pkcs10CertificateRequest {
  const match = csrPem.length <= MAX_CSR_CHARS ? CSR_PEM.exec(csrPem) : null;
  if (!match?.[2]) throw new BatonError('InvalidCsr', 'The CSR is not a PEM certificate request.');
  try {
    return new x509.Pkcs10CertificateRequest(Buffer.from(match[2], 'base64'));
  } catch {
    throw new BatonError('InvalidCsr', 'The CSR is not a valid PKCS#10 structure.');
  }
}

/** Devices may use ECDSA P-256 or RSA of at least 2048 bits (NIST SP 800-131A); nothing else. */
function checkKey(csr: Pkcs10CertificateRequest): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  } catch {
    throw new BatonError('WeakKey', 'The CSR key is of an unsupported type.');
  }
  const kind = keyKind(key);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (kind === 'ec-p256' || (kind === 'rsa' && bits >= MIN_RSA_BITS)) return key;
  const what = kind === 'rsa' ? `RSA-${bits}` : (key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyType);
  throw new BatonError('WeakKey', `The CSR key (${what}) is not ECDSA P-256 or RSA >= ${MIN_RSA_BITS}.`);
}

/** Proof of possession: the CSR must be signed by the key it asks to certify. */
async function checkSelfSignature(csr: Pkcs10CertificateRequest): Promise<void> {
  const valid = await csr.verify().catch(() => false);
  if (!valid) throw new BatonError('InvalidCsr', 'The CSR signature does not verify.');
}

function checkSubject(csr: Pkcs10CertificateRequest, deviceId: string): void {
  const cns = csr.subjectName.getField('CN');
  if (cns.length !== 1 || cns[0] !== deviceId) {
    throw new BatonError('CsrSubjectMismatch', `The CSR common name must be exactly the device id ${deviceId}.`);
  }
}

export async function acceptCsr(csrPem: string, deviceId: string): Promise<AcceptedCsr> {
  const csr = parseCsr(csrPem);
  const key = checkKey(csr);
  await checkSelfSignature(csr);
  checkSubject(csr, deviceId);
  return { spki: csr.publicKey.rawData, rsaKey: keyKind(key) === 'rsa' };
}
