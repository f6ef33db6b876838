/**
 * Reading and writing the PEM files the CA keeps on disk: private keys (mode 0600, optionally
 * encrypted) and certificate bundles.
 *
 * Encryption is node:crypto's encrypted PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`: PBES2 with
 * PBKDF2-HMAC-SHA256 and AES-256-CBC), which `openssl pkey` and every TLS stack can read back.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { CertSetupError } from './setup-error.js';

/** A fresh ECDSA P-256 key: the kind of every key Baton generates (CA, server, devices). */
export function generateEcKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

/** PKCS#8 PEM; encrypted when a (non-empty) passphrase is given. */
export function privateKeyToPem(key: KeyObject, passphrase?: string): string {
  const encryption = passphrase ? { cipher: 'aes-256-cbc', passphrase } : {};
  return key.export({ type: 'pkcs8', format: 'pem', ...encryption }).toString();
}

/**
 * Writes through a temporary file and a rename, so a crash never leaves half a key and a reader
 * never sees one. `wx` creates the file with `mode` from the start: a key is never world-readable,
 * not even for the instant a later chmod would take. The name is random, not the pid, because in
 * a container every start is pid 1 and would trip over the leftover of a crash.
 */
function writeAtomically(path: string, data: string, mode: number): void {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temporary, data, { mode, flag: 'wx' });
  renameSync(temporary, path);
}

export function writePrivateKey(path: string, key: KeyObject, passphrase?: string): void {
  writeAtomically(path, privateKeyToPem(key, passphrase), 0o600);
}

export function writeCertificate(path: string, pem: string): void {
  writeAtomically(path, pem, 0o644);
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CertSetupError('Unreadable', `Cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Reads a PEM private key, telling a missing or wrong passphrase apart from a bad file. */
export function readPrivateKey(path: string, passphrase?: string): KeyObject {
  const pem = readText(path);
  const encrypted = /ENCRYPTED/.test(pem);
  try {
    return createPrivateKey({ key: pem, format: 'pem', ...(passphrase ? { passphrase } : {}) });
  } catch (err) {
    if (encrypted && !passphrase) {
      throw new CertSetupError('PassphraseRequired', `${path} is encrypted: a passphrase is required.`);
    }
    if (encrypted) throw new CertSetupError('WrongPassphrase', `The passphrase does not decrypt ${path}.`);
    throw new CertSetupError('Unreadable', `${path} is not a PEM private key: ${(err as Error).message}`);
  }
}

/** The PEM blocks of a certificate bundle, in file order. */
export function splitCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Reads a certificate or a bundle (leaf or issuing certificate first, then its issuers). */
export function readCertificates(path: string): X509Certificate[] {
  const blocks = splitCertificates(readText(path));
  if (blocks.length === 0) throw new CertSetupError('Unreadable', `${path} holds no PEM certificate.`);
  try {
    return blocks.map((block) => new X509Certificate(block));
  } catch (err) {
    throw new CertSetupError('Unreadable', `${path} holds a malformed certificate: ${(err as Error).message}`);
  }
}
