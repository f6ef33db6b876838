/**
 * Test-only helpers for the SDK's firmware tests. They sign with node:crypto directly (the SDK
 * may not use jose), which also lets tests forge the malformed envelopes a device must refuse.
 */
import { createHash, createHmac, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { BatonError, type ErrorCode } from '../protocol/errors.js';
import {
  blockCount,
  deriveFirmwareId,
  MANIFEST_TYP,
  type FirmwareAlgorithm,
  type FirmwareManifest,
  type TrustedKey,
} from './manifest.js';

export interface TestKey {
  trusted: TrustedKey;
  privateKey: KeyObject;
}

let keyCounter = 0;

export function makeTestKey(algorithm: FirmwareAlgorithm = 'ES256'): TestKey {
  const { privateKey, publicKey } =
    algorithm === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { trusted: { keyId: `test-${algorithm}-${++keyCounter}`, algorithm, publicKeyPem }, privateKey };
}

const b64u = (data: string | Uint8Array): string => Buffer.from(data).toString('base64url');

/** A compact JWS with any header; `alg` decides how it is signed (`none` gets an empty signature). */
export function signJws(
  payload: string | Uint8Array,
  header: Record<string, unknown>,
  key?: KeyObject | string,
): string {
  const input = `${b64u(JSON.stringify(header))}.${b64u(payload)}`;
  let signature: Buffer;
  if (header.alg === 'ES256') {
    signature = sign('sha256', Buffer.from(input), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
  } else if (header.alg === 'EdDSA') signature = sign(null, Buffer.from(input), key as KeyObject);
  else if (header.alg === 'HS256') signature = createHmac('sha256', key as string).update(input).digest();
  else signature = Buffer.alloc(0);
  return `${input}.${b64u(signature)}`;
}

export function signTestManifest(manifest: FirmwareManifest, key: TestKey): string {
  const header = { alg: key.trusted.algorithm, kid: key.trusted.keyId, typ: MANIFEST_TYP };
  return signJws(JSON.stringify(manifest), header, key.privateKey);
}

export const sha256Hex = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** The chunk table, computed the obvious way, independently of the broker's streaming digester. */
export function chunkTableOf(image: Uint8Array, chunkSize: number): Buffer {
  const digests: Buffer[] = [];
  for (let offset = 0; offset < image.length; offset += chunkSize) {
    digests.push(createHash('sha256').update(image.subarray(offset, offset + chunkSize)).digest());
  }
  return Buffer.concat(digests);
}

export const makeImage = (size: number): Buffer => randomBytes(size);

/** An image of 11 blocks of 1 KiB, the last one short, with its manifest, chunk table and blocks. */
export function elevenBlocks() {
  const CHUNK = 1024;
  const image = makeImage(10 * CHUNK + 300);
  return {
    CHUNK,
    image,
    manifest: manifestFor(image, { keyId: 'k1', chunkSize: CHUNK }),
    table: chunkTableOf(image, CHUNK),
    blocks: blockCount(image.length, CHUNK),
    block: (i: number) => Buffer.from(image.subarray(i * CHUNK, (i + 1) * CHUNK)),
  };
}

/** A copy of `data` with one bit of byte `at` flipped. */
export function flipped(data: Uint8Array, at: number): Buffer {
  const copy = Buffer.from(data);
  copy[at] = (copy[at] ?? 0) ^ 0x01;
  return copy;
}

type ManifestOverrides = Partial<Omit<FirmwareManifest, 'firmwareId' | 'sha256' | 'size' | 'chunkTableSha256'>> &
  Pick<FirmwareManifest, 'keyId'>;

/** A valid manifest for `image`; the digests and firmware id are derived, everything else can be overridden. */
export function manifestFor(image: Uint8Array, overrides: ManifestOverrides): FirmwareManifest {
  const chunkSize = overrides.chunkSize ?? 1024;
  const deviceClass = overrides.deviceClass ?? 'sensor-v2';
  const version = overrides.version ?? '2.0.0';
  const sha256 = sha256Hex(image);
  return {
    formatVersion: 1,
    deviceClass,
    version,
    sequence: 11,
    securityCounter: 3,
    issuedAt: '2025-06-01T00:00:00.000Z',
    expiresAt: '2025-09-01T00:00:00.000Z',
    ...overrides,
    firmwareId: deriveFirmwareId(deviceClass, version, sha256),
    size: image.length,
    sha256,
    chunkSize,
    chunkTableSha256: sha256Hex(chunkTableOf(image, chunkSize)),
  };
}

/** A fresh temp directory for each test of the enclosing `describe`, removed after it; returns its path. */
export function useTempDir(prefix = 'baton-fw-'): () => string {
  let path: string | undefined;
  beforeEach(async () => {
    path = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    if (path) await rm(path, { recursive: true, force: true });
    path = undefined;
  });
  return () => {
    if (!path) throw new Error('useTempDir: the directory exists only while a test runs');
    return path;
  };
}

/** The code a call fails with (sync or async), or `none`; any non-Baton error propagates. */
export async function codeOf(fn: () => unknown): Promise<ErrorCode | 'none'> {
  try {
    await fn();
    return 'none';
  } catch (err) {
    if (err instanceof BatonError) return err.code;
    throw err;
  }
}
