/**
 * The firmware manifest: the one schema shared by the broker (`firmware-updates/`) and devices.
 *
 * It lives in the SDK because the SDK may import nothing from the broker, while the broker may
 * import the SDK. The manifest is what RFC 9124 calls the manifest: it binds an image (size,
 * SHA-256, chunk table) to a device class and to the anti-replay and anti-rollback counters, and
 * is only ever trusted after its signature verifies (see `verify-manifest.ts`).
 */
import { z } from 'zod';
import { BatonError } from '../protocol/errors.js';
import { TOPIC_SEGMENT_PATTERN } from '../protocol/topics.js';

/** Only asymmetric algorithms: a device must never hold a key that can sign (RFC 9124 REQ.SEC.AUTHENTIC). */
export const FIRMWARE_ALGORITHMS = ['ES256', 'EdDSA'] as const;
export type FirmwareAlgorithm = (typeof FIRMWARE_ALGORITHMS)[number];

/** JWS `typ` header (RFC 8725 §3.11 explicit typing), so no other JWS signed by the key passes as a manifest. */
export const MANIFEST_TYP = 'baton-firmware-manifest';

/** A signed manifest larger than this is refused before any parsing: bounded work on untrusted input. */
export const MAX_MANIFEST_BYTES = 8 * 1024;

export const DEFAULT_CHUNK_SIZE = 4096;
export const MIN_CHUNK_SIZE = 256;
export const MAX_CHUNK_SIZE = 128 * 1024;

/** A public key the device (or the broker's keyring) accepts signatures from. */
export interface TrustedKey {
  keyId: string;
  algorithm: FirmwareAlgorithm;
  publicKeyPem: string;
}

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'lowercase hex SHA-256');
const DEVICE_CLASS_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const KEY_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * `{deviceClass}-{version}-{first 16 hex of sha256}`: readable in logs and topics, one safe MQTT
 * topic level. Integrity never rests on it: devices check every byte against the signed digests.
 */
export function deriveFirmwareId(deviceClass: string, version: string, sha256: string): string {
  const safeVersion = version.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 40);
  return `${deviceClass}-${safeVersion}-${sha256.slice(0, 16)}`;
}

export const firmwareManifestSchema = z
  .strictObject({
    formatVersion: z.literal(1),
    firmwareId: z.string().regex(TOPIC_SEGMENT_PATTERN),
    deviceClass: z.string().regex(DEVICE_CLASS_PATTERN),
    /** For people only; ordering uses `sequence`, never this string. */
    version: z.string().regex(/^[\x20-\x7e]{1,64}$/),
    /** Monotonic per device class (RFC 9124 REQ.SEC.SEQUENCE): a device refuses one not above its installed one. */
    sequence: z.int().min(0),
    /** MCUboot-style security counter: may stay equal across releases, never goes down. */
    securityCounter: z.int().min(0),
    size: z.int().min(1),
    sha256: sha256Hex,
    chunkSize: z.int().min(MIN_CHUNK_SIZE).max(MAX_CHUNK_SIZE).default(DEFAULT_CHUNK_SIZE),
    chunkTableSha256: sha256Hex,
    issuedAt: z.iso.datetime(),
    /** TUF-style expiry: bounds how long a captured manifest can be replayed to a device. */
    expiresAt: z.iso.datetime(),
    keyId: z.string().regex(KEY_ID_PATTERN),
  })
  .refine((m) => Date.parse(m.expiresAt) > Date.parse(m.issuedAt), {
    message: 'expiresAt must be later than issuedAt',
    path: ['expiresAt'],
  })
  .refine((m) => m.firmwareId === deriveFirmwareId(m.deviceClass, m.version, m.sha256), {
    message: 'firmwareId must be derived from deviceClass, version and sha256',
    path: ['firmwareId'],
  });

export type FirmwareManifest = z.infer<typeof firmwareManifestSchema>;

/** Validates a decoded manifest; `InvalidRequest` with the offending fields otherwise. */
export function parseManifest(value: unknown): FirmwareManifest {
  const result = firmwareManifestSchema.safeParse(value);
  if (!result.success) {
    const fields = result.error.issues.map((i) => i.path.join('.'));
    throw new BatonError('InvalidRequest', 'The manifest does not match its schema.', { fields });
  }
  return result.data;
}

/** Number of blocks of an image: block i covers bytes [i*chunkSize, min((i+1)*chunkSize, size)). */
export function blockCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** Byte range of block `index`; `undefined` past the end, so no caller can address bytes beyond `size`. */
export function blockRange(
  index: number,
  size: number,
  chunkSize: number,
): { offset: number; length: number } | undefined {
  if (!Number.isSafeInteger(index) || index < 0 || index >= blockCount(size, chunkSize)) return undefined;
  const offset = index * chunkSize;
  return { offset, length: Math.min(chunkSize, size - offset) };
}
