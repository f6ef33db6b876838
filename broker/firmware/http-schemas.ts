/**
 * zod schemas of the firmware admin API: the routes validate with them and /openapi.json is
 * generated from them. Field patterns come from the manifest schema, the one definition shared
 * with devices.
 */
import { z } from 'zod';
import { FIRMWARE_ALGORITHMS, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, firmwareManifestSchema } from '../../device-sdk/firmware/manifest.js';

const m = firmwareManifestSchema.shape;
const count = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const uploadQuery = z
  .object({
    deviceClass: m.deviceClass.optional().describe('Required unless X-Baton-Manifest is sent (then it must match).'),
    version: m.version.optional().describe('Display version; required unless X-Baton-Manifest is sent.'),
    sequence: count.optional().describe('Anti-replay; default: the highest of the device class + 1.'),
    securityCounter: count.optional().describe('Anti-rollback; default: the highest of the device class.'),
    expiresAt: z.iso.datetime({ offset: true }).optional().describe('Default: 90 days after upload.'),
    chunkSize: z.coerce.number().int().min(MIN_CHUNK_SIZE).max(MAX_CHUNK_SIZE).optional().describe('Block size in bytes; default 4096.'),
  })
  .strict();

export const uploadHeaders = z.object({
  'x-baton-manifest': z.string().optional().describe('An offline-signed manifest (compact JWS); the server verifies it and does not sign.'),
});

export const firmwareSchema = z
  .object({
    id: z.string(),
    deviceClass: z.string(),
    version: z.string(),
    sequence: z.number().int(),
    securityCounter: z.number().int(),
    size: z.number().int(),
    sha256: z.string(),
    chunkSize: z.number().int(),
    chunkTableSha256: z.string(),
    keyId: z.string(),
    signedBy: z.enum(['server', 'offline']),
    issuedAt: z.string(),
    expiresAt: z.string(),
    createdAt: z.string(),
    status: z.enum(['active', 'expired', 'untrusted']).describe('`expired` and `untrusted` (key retired) firmware is refused by devices.'),
  })
  .meta({ id: 'Firmware' });

export const firmwareDetailSchema = firmwareSchema
  .extend({ manifest: z.record(z.string(), z.unknown()).describe('The signed manifest, decoded. GET …/manifest has the signed bytes.') })
  .meta({ id: 'FirmwareDetail' });

export const listFirmwareQuery = z.object({
  deviceClass: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().optional(),
});

export const keySchema = z
  .object({
    keyId: z.string(),
    algorithm: z.enum(FIRMWARE_ALGORITHMS),
    publicKeyPem: z.string(),
    source: z.enum(['server', 'offline']),
    createdAt: z.string(),
    retiredAt: z.string().nullable().describe('When the key stopped being trusted: retired by an operator, or its `retiresAt` has come.'),
    retiresAt: z.string().nullable().describe('A key rotated out: trusted until then (the last expiry of what it signed), then retired by itself.'),
  })
  .meta({ id: 'FirmwareKey' });

export const addKeyBody = z
  .object({
    publicKeyPem: z.string().min(1).max(4096),
    keyId: z.string().optional().describe('Optional: the first 16 hex of the SHA-256 of the SPKI DER; checked when given.'),
    algorithm: z.enum(FIRMWARE_ALGORITHMS).optional(),
  })
  .strict();

/** Optional: a POST without a body rotates to a key of the current algorithm. */
export const rotateKeyBody = z
  .strictObject({ algorithm: z.enum(FIRMWARE_ALGORITHMS).optional().describe("Default: the current key's.") })
  .nullish()
  .transform((body) => body ?? {});

export const keyRotationSchema = z
  .object({
    key: keySchema.describe('The broker signs with this key from now on; listed first.'),
    previous: keySchema.describe('The key it replaced: trusted until `retiresAt`.'),
  })
  .meta({ id: 'FirmwareKeyRotation' });

export const listKeysQuery = z.object({ includeRetired: z.enum(['true', 'false']).default('false') });
export const keyIdParams = z.object({ keyId: z.string().min(1).max(64) });
