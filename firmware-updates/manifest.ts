/**
 * Building manifests on the server. The schema itself lives in the SDK
 * (`device-sdk/firmware/manifest.ts`) so the broker and devices validate against one definition.
 */
import {
  deriveFirmwareId,
  parseManifest,
  type FirmwareManifest,
} from '../device-sdk/firmware/manifest.js';
import { BatonError } from '../device-sdk/protocol/errors.js';
import type { ImageDigest } from './chunk-table.js';

export {
  DEFAULT_CHUNK_SIZE,
  FIRMWARE_ALGORITHMS,
  MANIFEST_TYP,
  MAX_CHUNK_SIZE,
  MAX_MANIFEST_BYTES,
  MIN_CHUNK_SIZE,
  deriveFirmwareId,
  firmwareManifestSchema,
  parseManifest,
} from '../device-sdk/firmware/manifest.js';
export type { FirmwareAlgorithm, FirmwareManifest, TrustedKey } from '../device-sdk/firmware/manifest.js';

export interface ManifestInput {
  deviceClass: string;
  version: string;
  sequence: number;
  securityCounter: number;
  image: Pick<ImageDigest, 'size' | 'sha256' | 'chunkSize' | 'chunkTableSha256'>;
  keyId: string;
  issuedAt: Date;
  expiresAt: Date;
}

/** A validated manifest for an image; `InvalidRequest` if any field is out of range. */
export function buildManifest(input: ManifestInput): FirmwareManifest {
  const { image } = input;
  return parseManifest({
    formatVersion: 1,
    firmwareId: deriveFirmwareId(input.deviceClass, input.version, image.sha256),
    deviceClass: input.deviceClass,
    version: input.version,
    sequence: input.sequence,
    securityCounter: input.securityCounter,
    size: image.size,
    sha256: image.sha256,
    chunkSize: image.chunkSize,
    chunkTableSha256: image.chunkTableSha256,
    issuedAt: input.issuedAt.toISOString(),
    expiresAt: input.expiresAt.toISOString(),
    keyId: input.keyId,
  });
}

/** The exact bytes that are signed: the JWS payload, and so what devices parse after verifying. */
export function encodeManifest(manifest: FirmwareManifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(manifest));
}

/**
 * Before the broker offers a manifest to devices: does it describe the stored image? Catches an
 * upload paired with the wrong manifest at upload time instead of on every device.
 */
export function checkManifestMatchesImage(manifest: FirmwareManifest, image: ImageDigest): void {
  if (manifest.size !== image.size || manifest.sha256 !== image.sha256) {
    throw new BatonError('ImageDigestMismatch', 'The manifest describes another image.');
  }
  if (manifest.chunkSize !== image.chunkSize || manifest.chunkTableSha256 !== image.chunkTableSha256) {
    throw new BatonError('ChunkTableMismatch', "The manifest's chunk table differs from the image's.");
  }
}
