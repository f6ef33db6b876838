/**
 * Firmware signing keys: the broker's own key (created on first start, rotated on request),
 * offline keys loaded from PEM, and signing with jose. Verification is in `keyring.ts`.
 *
 * Only ECDSA P-256 (ES256, the default, widely in device crypto libraries and MCUboot) and Ed25519
 * (EdDSA). A key id is the first 16 hex of the SHA-256 of the SPKI DER, so it is derived from the
 * public key and cannot be claimed by another key.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CompactSign } from 'jose';
import { BatonError } from '../device-sdk/protocol/errors.js';
import { writeFileAtomic } from '../device-sdk/firmware/atomic-file.js';
import { MANIFEST_TYP, type FirmwareAlgorithm, type FirmwareManifest } from '../device-sdk/firmware/manifest.js';
import { encodeManifest } from './manifest.js';

export const SIGNING_KEY_FILE = 'firmware-signing-key.pem';

export interface SigningKey {
  keyId: string;
  algorithm: FirmwareAlgorithm;
  privateKey: KeyObject;
  publicKeyPem: string;
}

export function keyIdOf(publicKey: KeyObject): string {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex').slice(0, 16);
}

/** The JWS algorithm a key can sign with; `WeakKey` for any other key type. */
export function algorithmOf(key: KeyObject): FirmwareAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new BatonError('WeakKey', 'Firmware keys must be ECDSA P-256 or Ed25519.');
}

/** Parses a private key PEM (PKCS#8, or SEC1 for EC) into a signing key. */
export function signingKeyFromPem(privateKeyPem: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(privateKeyPem);
  } catch {
    throw new BatonError('InvalidRequest', 'The signing key is not a PEM private key.');
  }
  const publicKey = createPublicKey(privateKey);
  return {
    keyId: keyIdOf(publicKey),
    algorithm: algorithmOf(privateKey),
    privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** A new key pair as PEM (PKCS#8 private, SPKI public), with its key id. */
export function generateSigningKeyPem(algorithm: FirmwareAlgorithm = 'ES256'): {
  privateKeyPem: string;
  publicKeyPem: string;
  keyId: string;
} {
  const { privateKey } =
    algorithm === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const { keyId, publicKeyPem } = signingKeyFromPem(privateKeyPem);
  return { privateKeyPem, publicKeyPem, keyId };
}

/** Writes a new private key to `path` (mode 0600); refuses to overwrite an existing file (EEXIST). */
export async function writeNewSigningKey(path: string, algorithm: FirmwareAlgorithm = 'ES256'): Promise<SigningKey> {
  const { privateKeyPem } = generateSigningKeyPem(algorithm);
  await writeFileAtomic(path, privateKeyPem, { mode: 0o600, noClobber: true });
  return signingKeyFromPem(privateKeyPem);
}

/**
 * The broker's own signing key in `dir`: loaded if present, created on first start otherwise.
 * Two processes starting at once both end up with the one key that won the no-clobber link.
 */
export async function ensureSigningKey(dir: string, algorithm: FirmwareAlgorithm = 'ES256'): Promise<SigningKey> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, SIGNING_KEY_FILE);
  try {
    return signingKeyFromPem(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    return await writeNewSigningKey(path, algorithm);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return signingKeyFromPem(await readFile(path, 'utf8'));
  }
}

/**
 * The broker's own signing key, which an operator may rotate. Signers (firmware manifests, config
 * envelopes) call `current()` at each signature, so a rotation takes effect for all of them at once.
 */
export interface ServerSigningKey {
  current(): SigningKey;
  /**
   * Replaces the key in the key file with a new one and returns both. The file holds the old key
   * or the new one, never neither, even after a crash. The old private key is not kept: it signs
   * nothing after this, and devices trust what it signed only until its retirement (broker/firmware/keys.ts).
   */
  rotate(algorithm?: FirmwareAlgorithm): Promise<{ previous: SigningKey; current: SigningKey }>;
}

/** The broker's key in `{dir}/firmware-signing-key.pem` (created on first start), ready to rotate. */
export async function openServerSigningKey(dir: string, algorithm: FirmwareAlgorithm = 'ES256'): Promise<ServerSigningKey> {
  let key = await ensureSigningKey(dir, algorithm);
  // One rotation at a time, so the key in memory is always the one last written to the file.
  let last: Promise<unknown> = Promise.resolve();
  return {
    current: () => key,
    rotate(next?: FirmwareAlgorithm) {
      const rotation = last.then(async () => {
        const { privateKeyPem } = generateSigningKeyPem(next ?? key.algorithm);
        await writeFileAtomic(join(dir, SIGNING_KEY_FILE), privateKeyPem, { mode: 0o600 });
        const previous = key;
        key = signingKeyFromPem(privateKeyPem);
        return { previous, current: key };
      });
      last = rotation.catch(() => undefined);
      return rotation;
    },
  };
}

/** Signs the manifest's exact JSON bytes as a compact JWS with `kid` and an explicit `typ`. */
export async function signManifest(manifest: FirmwareManifest, key: SigningKey): Promise<string> {
  if (manifest.keyId !== key.keyId) {
    throw new BatonError('InvalidRequest', `The manifest names key ${manifest.keyId}, not ${key.keyId}.`);
  }
  return new CompactSign(encodeManifest(manifest))
    .setProtectedHeader({ alg: key.algorithm, kid: key.keyId, typ: MANIFEST_TYP })
    .sign(key.privateKey);
}
