/**
 * The broker's TLS server certificate: issued by the fleet CA into the data directory and reused
 * on later starts while it still fits, or loaded from an operator's files.
 */
import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { FleetCa } from './fleet-ca.js';
import { isIssuedBy, validityOf } from './node-cert.js';
import { privateKeyToPem, readCertificates, readPrivateKey, writeCertificate, writePrivateKey } from './pem-files.js';
import { CertSetupError } from './setup-error.js';

export const SERVER_CERT_FILE = 'server.pem';
export const SERVER_KEY_FILE = 'server-key.pem';
export const DEFAULT_SERVER_HOSTNAMES: readonly string[] = ['localhost', '127.0.0.1'];
/** Renewed at start when less than this is left, so a long-running broker rarely serves an expired one. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

/** What `tls.createServer` needs: `cert` (leaf, then intermediates) and `key`, both PEM. */
export interface ServerCredentials {
  certificatePem: string;
  privateKeyPem: string;
}

export interface EnsureServerOptions {
  /** The same data directory as the CA's. */
  dir: string;
  /** Encrypts the stored key, as for the CA key. */
  passphrase?: string;
  /** SANs; default `localhost`, `127.0.0.1`. */
  hostnames?: readonly string[];
  now?: Date;
}

function tryLoad(certPath: string, keyPath: string, passphrase?: string): [X509Certificate, KeyObject] | undefined {
  if (!existsSync(certPath) || !existsSync(keyPath)) return undefined;
  try {
    const [cert] = readCertificates(certPath);
    return cert ? [cert, readPrivateKey(keyPath, passphrase)] : undefined;
  } catch {
    return undefined; // unreadable or undecryptable: a server certificate is cheap to replace
  }
}

/** Reusable while it is ours, owns its key, has a month left and names every requested host. */
function isReusable(stored: [X509Certificate, KeyObject], ca: FleetCa, hostnames: readonly string[], now: Date) {
  const [cert, key] = stored;
  const { notBefore, notAfter } = validityOf(cert);
  const fresh = notBefore <= now && notAfter.getTime() - now.getTime() > RENEW_BEFORE_MS;
  const names = (host: string) => (isIP(host) ? cert.checkIP(host) : cert.checkHost(host)) !== undefined;
  return fresh && isIssuedBy(cert, ca.certificate) && cert.checkPrivateKey(key) && hostnames.every(names);
}

/** Loads the stored server certificate, or issues and stores a new one. */
export async function ensureServerCertificate(
  ca: FleetCa,
  { dir, passphrase, hostnames = DEFAULT_SERVER_HOSTNAMES, now = ca.clock() }: EnsureServerOptions,
): Promise<ServerCredentials & { reused: boolean }> {
  const certPath = join(dir, SERVER_CERT_FILE);
  const keyPath = join(dir, SERVER_KEY_FILE);
  const stored = tryLoad(certPath, keyPath, passphrase);
  if (stored && isReusable(stored, ca, hostnames, now)) {
    const [cert, key] = stored;
    return { certificatePem: cert.toString() + ca.intermediatesPem, privateKeyPem: privateKeyToPem(key), reused: true };
  }
  const issued = await ca.issueServerCertificate({ hostnames, now });
  writePrivateKey(keyPath, createPrivateKey(issued.privateKeyPem), passphrase);
  writeCertificate(certPath, issued.certificatePem);
  const { certificatePem, privateKeyPem } = issued;
  return { certificatePem: certificatePem + ca.intermediatesPem, privateKeyPem, reused: false };
}

/** An operator's server certificate (file may hold the chain) and key, checked to belong together. */
export function loadServerCertificate(paths: {
  certPath: string;
  keyPath: string;
  passphrase?: string;
}): ServerCredentials {
  const certs = readCertificates(paths.certPath);
  const key = readPrivateKey(paths.keyPath, paths.passphrase);
  if (!certs[0]?.checkPrivateKey(key)) {
    throw new CertSetupError('KeyMismatch', `The server key does not belong to ${paths.certPath}.`);
  }
  return { certificatePem: certs.map(String).join(''), privateKeyPem: privateKeyToPem(key) };
}
