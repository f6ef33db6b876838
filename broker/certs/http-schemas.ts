/** zod schemas of the certificate and provisioning admin API (validation and OpenAPI). */
import { z } from 'zod';
import { FREE_FORM_MAX_DEPTH, TOPIC_SEGMENT_PATTERN } from '../../device-sdk/protocol/index.js';
import { crlReasons, type CrlReason } from '../../certs/index.js';
import { freeFormObject, siteIdSchema } from '../http/schemas.js';

const segment = z.string().regex(TOPIC_SEGMENT_PATTERN, '1–128 characters of A-Z a-z 0-9 _ - . :');
const hex = z.string().regex(/^[0-9a-f]+$/);
const pkcs12Password = z.string().min(1).max(256).optional()
  .describe('Protects the PKCS#12 bundle; default: a random one, returned as `pkcs12Password`.');

export const serialParams = z.object({
  id: z.string().min(1).max(256),
  serial: z.string().regex(/^[0-9A-Fa-f:]{1,128}$/, 'a hex serial (separators allowed)'),
});
export const templateParams = z.object({ name: z.string().min(1).max(128) });
export const claimParams = templateParams.extend({ claimId: z.string().min(1).max(64) });

export const issueCertificateBody = z.union([
  z.object({ csr: z.string().min(1).max(16 * 1024).describe('PEM PKCS#10 request; its CN must be the device id.') }).strict(),
  z.object({ generateKey: z.literal(true), pkcs12Password }).strict(),
]);

/** Optional: an empty POST revokes with reason `unspecified`. */
export const revokeBody = z
  .object({ reason: z.enum(Object.keys(crlReasons) as [CrlReason, ...CrlReason[]]).optional().describe('RFC 5280 reason; default `unspecified`.') })
  .strict()
  .nullish();

export const certificateSchema = z
  .object({
    serial: hex.describe('Lowercase hex without separators: the form the revoke URL takes.'),
    fingerprintSha256: hex,
    notBefore: z.string(),
    notAfter: z.string(),
    issuedAt: z.string(),
    source: z.enum(['csr', 'generated', 'rotation', 'provisioning', 'claim']),
    status: z.enum(['active', 'revoked', 'expired']),
    revokedAt: z.string().nullable(),
    revocationReason: z.string().nullable(),
    certificate: z.string().describe('PEM'),
  })
  .meta({ id: 'Certificate' });

export const issuedCertificateSchema = certificateSchema
  .extend({
    ca: z.string().describe('The CA bundle (PEM) devices should trust.'),
    privateKey: z.string().optional().describe('PKCS#8 PEM, with `generateKey` only. Returned once, never stored.'),
    pkcs12: z.string().optional().describe('Base64 PKCS#12 of key, certificate and CA, with `generateKey` only.'),
    pkcs12Password: z.string().optional(),
  })
  .meta({ id: 'IssuedCertificate' });

export const templateBody = z
  .object({
    name: segment,
    deviceClasses: z.array(segment).min(1).max(256).optional().describe('Device classes admitted; default any.'),
    site: siteIdSchema.optional(),
    tags: z.array(z.string().min(1).max(64)).max(64).optional(),
    attributes: freeFormObject().optional().describe(`Attributes of the devices it registers; nested at most ${FREE_FORM_MAX_DEPTH} levels deep.`),
    allowedSerials: z.array(segment).min(1).max(50_000).optional().describe('Hardware serials admitted; default any.'),
    requireApproval: z.boolean().default(false).describe('New devices stay `pending` until approved.'),
  })
  .strict();

export const templateSchema = z
  .object({
    name: z.string(),
    deviceClasses: z.array(z.string()).nullable(),
    site: z.string().nullable(),
    tags: z.array(z.string()),
    attributes: z.record(z.string(), z.unknown()),
    allowedSerials: z.array(z.string()).nullable(),
    requireApproval: z.boolean(),
    createdAt: z.string(),
  })
  .meta({ id: 'ProvisioningTemplate' });

export const claimBody = z.object({ kind: z.enum(['token', 'certificate']), pkcs12Password }).strict();

export const claimSchema = z
  .object({
    id: z.string(),
    template: z.string(),
    kind: z.enum(['token', 'certificate']),
    certificateSerial: z.string().nullable(),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .meta({ id: 'ClaimCredential' });

export const issuedClaimSchema = claimSchema
  .extend({
    token: z.string().optional().describe('kind `token`: the MQTT password (username `claim`). Returned once.'),
    certificate: z.string().optional(),
    privateKey: z.string().optional().describe('kind `certificate`: returned once, never stored.'),
    notAfter: z.string().optional(),
    ca: z.string().optional(),
    pkcs12: z.string().optional(),
    pkcs12Password: z.string().optional(),
  })
  .meta({ id: 'IssuedClaimCredential' });

export const itemsOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) });
