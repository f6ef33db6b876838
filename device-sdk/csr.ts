/**
 * Device-side key and CSR creation: what a device without a secure element runs before it calls
 * `devices/{id}/certificates/create-from-csr`. A device whose CSR comes from a secure element
 * does not need this module.
 *
 * Keys are ECDSA P-256 (PKCS#8 PEM, made by node:crypto): the only curve the fleet CA accepts,
 * and the cheapest signature in a TLS handshake for a small device. The CSR is built and signed
 * by @peculiar/x509 through Node's WebCrypto, because node:crypto cannot build CSRs.
 *
 * The key conversion below (`toWebCryptoSigner`) is also the one the fleet CA (`certs/`) uses to
 * sign, so there is one table of key kinds and WebCrypto parameters.
 */
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata
// API its README asks for; ESM evaluates imports in order, so the polyfill loads first.
import 'reflect-metadata';
import { createPublicKey, generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { BatonError } from './protocol/errors.js';
import { isDeviceId } from './protocol/topics.js';

/** Baton code uses @peculiar/x509 through this module, so the provider below is always set. */
export { x509 };
// @peculiar/x509 signs and verifies through a WebCrypto provider; Node's is the one we trust.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** The key kinds Baton signs with: devices use `ec-p256`; an operator's CA may be any of them. */
export type KeyKind = 'ec-p256' | 'ec-p384' | 'rsa';

const webCryptoParams = {
  'ec-p256': {
    importParams: { name: 'ECDSA', namedCurve: 'P-256' },
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  },
  'ec-p384': {
    importParams: { name: 'ECDSA', namedCurve: 'P-384' },
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' },
  },
  rsa: {
    importParams: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  },
} as const;

/** The kind of a (public or private) key, or undefined for kinds Baton never signs with. */
export function keyKind(key: KeyObject): KeyKind | undefined {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === 'rsa') return 'rsa';
  if (key.asymmetricKeyType !== 'ec') return undefined;
  if (curve === 'prime256v1') return 'ec-p256';
  if (curve === 'secp384r1') return 'ec-p384';
  return undefined;
}

/** A private key as @peculiar/x509 needs it: a WebCrypto key pair and the algorithm to sign with. */
export interface WebCryptoSigner {
  keys: webcrypto.CryptoKeyPair;
  signingAlgorithm: { name: string; hash: string };
}

/** Converts a node:crypto private key into a WebCrypto key pair (non-extractable private half). */
export async function toWebCryptoSigner(privateKey: KeyObject): Promise<WebCryptoSigner> {
  const kind = keyKind(privateKey);
  if (kind === undefined) throw new BatonError('WeakKey', 'Unsupported key type for signing.');
  const { importParams, signingAlgorithm } = webCryptoParams[kind];
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const subtle = webcrypto.subtle;
  const keys = {
    privateKey: await subtle.importKey('pkcs8', pkcs8, importParams, false, ['sign']),
    publicKey: await subtle.importKey('spki', spki, importParams, true, ['verify']),
  };
  return { keys, signingAlgorithm };
}

/** Builds a PEM CSR with subject `CN={deviceId}`, signed by `privateKey` (P-256 or RSA). */
export async function createCsr(deviceId: string, privateKey: KeyObject): Promise<string> {
  if (!isDeviceId(deviceId)) throw new BatonError('InvalidRequest', `Invalid device id: ${deviceId}`);
  const { keys, signingAlgorithm } = await toWebCryptoSigner(privateKey);
  // No requested extensions: the CA decides the whole profile (SAN, key usages) itself.
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [deviceId] }],
    keys,
    signingAlgorithm,
  });
  return `${csr.toString('pem')}\n`; // the library omits the final newline
}

export interface DeviceKeyAndCsr {
  /** PKCS#8 PEM, unencrypted: store it where only the device agent can read it. */
  privateKeyPem: string;
  csrPem: string;
}

/** Creates a fresh ECDSA P-256 key and a CSR for `deviceId`. */
export async function createDeviceKeyAndCsr(deviceId: string): Promise<DeviceKeyAndCsr> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const csrPem = await createCsr(deviceId, privateKey);
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), csrPem };
}
