/**
 * Where the CA comes from at start: the operator's CA files (e.g. an intermediate under their
 * own root), or our own root, created in the data directory on first start and reloaded after.
 *
 * This key is for TLS and device identity only. Firmware signing keys live in
 * `firmware-updates/` and are never this key: a leaked device-CA key must not let anyone sign
 * firmware, nor the other way round.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject, X509Certificate } from 'node:crypto';
import { keyKind } from '../device-sdk/csr.js';
import { issueCertificate, selfIssuer, spkiOf } from './issuer.js';
import { isWithinValidity } from './node-cert.js';
import { generateEcKey, readCertificates, readPrivateKey, writeCertificate, writePrivateKey } from './pem-files.js';
import { caExtensions } from './profiles.js';
import { CertSetupError } from './setup-error.js';

export interface CaFiles {
  /** The CA certificate, optionally followed by its own issuers (a bundle up to the root). */
  certPath: string;
  keyPath: string;
}

export interface CaStoreOptions {
  /** Data directory for a CA we create ourselves (`ca.pem`, `ca-key.pem`). */
  dir: string;
  /** Encrypts a created key; needed to read an encrypted key. */
  passphrase?: string;
  /** Use these files instead of `dir`; they are never created or modified. */
  existing?: CaFiles;
  commonName: string;
  now: Date;
}

export interface CaMaterial {
  /** The issuing CA certificate first, then whatever issuers its file holds. */
  chain: [X509Certificate, ...X509Certificate[]];
  key: KeyObject;
  created: boolean;
}

export const CA_CERT_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca-key.pem';
const CA_LIFETIME_DAYS = 3650;

async function createCa(files: CaFiles, { dir, passphrase, commonName, now }: CaStoreOptions): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = generateEcKey();
  const issuer = await selfIssuer(commonName, key);
  const ca = await issueCertificate(issuer, {
    commonName,
    spki: spkiOf(key),
    extensions: caExtensions(),
    now,
    lifetimeDays: CA_LIFETIME_DAYS,
  });
  writePrivateKey(files.keyPath, key, passphrase);
  writeCertificate(files.certPath, ca.certificatePem);
}

/** A CA must be a CA, own its key, sign with a key kind we support, and be valid now. */
function checkCa(ca: X509Certificate, key: KeyObject, now: Date, certPath: string): void {
  const kind = keyKind(key);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (!ca.ca) throw new CertSetupError('NotACa', `${certPath} is not a CA certificate (basicConstraints CA:false).`);
  if (!ca.checkPrivateKey(key)) throw new CertSetupError('KeyMismatch', `The CA key does not belong to ${certPath}.`);
  if (kind === undefined || (kind === 'rsa' && bits < 2048)) {
    throw new CertSetupError('UnsupportedKey', 'The CA key must be ECDSA P-256/P-384 or RSA >= 2048 bits.');
  }
  if (!isWithinValidity(ca, now)) throw new CertSetupError('Expired', `${certPath} is expired or not yet valid.`);
}

function loadCa(files: CaFiles, passphrase: string | undefined, now: Date): Omit<CaMaterial, 'created'> {
  const [ca, ...issuers] = readCertificates(files.certPath);
  const key = readPrivateKey(files.keyPath, passphrase);
  if (!ca) throw new CertSetupError('Unreadable', `${files.certPath} holds no certificate.`);
  checkCa(ca, key, now, files.certPath);
  return { chain: [ca, ...issuers], key };
}

export async function loadOrCreateCa(options: CaStoreOptions): Promise<CaMaterial> {
  const { dir, existing, passphrase, now } = options;
  const files = existing ?? { certPath: join(dir, CA_CERT_FILE), keyPath: join(dir, CA_KEY_FILE) };
  const present = [files.certPath, files.keyPath].filter((path) => existsSync(path)).length;
  const created = !existing && present === 0;
  if (created) await createCa(files, options);
  else if (!existing && present === 1) {
    throw new CertSetupError('Incomplete', `Only one of ${CA_CERT_FILE} and ${CA_KEY_FILE} exists in ${dir}.`);
  }
  return { ...loadCa(files, passphrase, now), created };
}
