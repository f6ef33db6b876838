/**
 * zod schemas of the admin API's bodies and queries: the routes validate with them and the
 * OpenAPI document at /openapi.json is generated from them.
 */
import { z } from 'zod';
import { CLAIM_CLIENT_PREFIX } from '../../device-sdk/certificates.js';
import {
  DEVICE_ID_PATTERN, FREE_FORM_MAX_DEPTH, SHADOW_NAME_PATTERN, TOPIC_SEGMENT_PATTERN, deviceStatusSchema, healthReportSchema, jsonDepth, transportSchema,
} from '../../device-sdk/protocol/index.js';
import { timeZoneSchema } from '../../rollouts/settings.js';

/** Any JSON object, in responses (stored data is shown as it is). */
const jsonObject = z.record(z.string(), z.unknown());

/**
 * A free-form JSON object in a request (attributes, job documents and configs): at most
 * FREE_FORM_MAX_DEPTH levels deep, else refused with `TooDeep`. The issue's `params.batonCode`
 * names the problem code (broker/http/problem.ts). Bodies nested far deeper never get here: the
 * JSON parser refuses them first (broker/http/json-body.ts). The depth is measured iteratively;
 * zod does not recurse into `unknown`.
 */
export const freeFormObject = (maxDepth: number = FREE_FORM_MAX_DEPTH) =>
  z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    if (jsonDepth(value) > maxDepth) {
      ctx.addIssue({ code: 'custom', message: `nests deeper than ${maxDepth} levels`, params: { batonCode: 'TooDeep' } });
    }
  }).describe(`Any JSON object, nested at most ${maxDepth} levels deep.`);
const tag = z.string().min(1).max(64);

export const deviceIdSchema = z.string().regex(DEVICE_ID_PATTERN, 'device ids are 1–128 characters of A-Z a-z 0-9 _ - . :');
/** A new device's id: `provision-…` is reserved for the client ids of claim sessions. */
const newDeviceIdSchema = deviceIdSchema.refine((id) => !id.startsWith(CLAIM_CLIENT_PREFIX), {
  message: `device ids may not start with ${CLAIM_CLIENT_PREFIX} (reserved for provisioning)`,
});
export const siteIdSchema = z.string().regex(TOPIC_SEGMENT_PATTERN, 'site ids are 1–128 characters of A-Z a-z 0-9 _ - . :');
const deviceClassSchema = z.string().regex(TOPIC_SEGMENT_PATTERN, 'device classes are 1–128 characters of A-Z a-z 0-9 _ - . :');

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    instance: z.string().optional(),
    fields: z.record(z.string(), z.string()).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details with a stable `code`.' });

export const createDeviceBody = z
  .object({
    id: newDeviceIdSchema,
    deviceClass: deviceClassSchema.optional(),
    site: siteIdSchema.optional(),
    tags: z.array(tag).max(64).optional(),
    attributes: freeFormObject().optional(),
  })
  .strict();

export const patchDeviceBody = z
  .object({
    deviceClass: deviceClassSchema.nullable().optional(),
    site: siteIdSchema.nullable().optional(),
    tags: z.array(tag).max(64).optional(),
    attributes: freeFormObject().optional(),
  })
  .strict();

export const deviceSchema = z
  .object({
    id: z.string(),
    deviceClass: z.string().nullable(),
    site: z.string().nullable(),
    tags: z.array(z.string()),
    attributes: jsonObject,
    status: deviceStatusSchema,
    createdAt: z.string(),
    updatedAt: z.string(),
    firstConnectedAt: z.string().nullable(),
    lastSeenAt: z.string().nullable(),
  })
  .meta({ id: 'Device' });

export const connectionSchema = z.object({
  event: z.enum(['connected', 'disconnected']),
  at: z.string(),
  remoteAddress: z.string(),
  transport: transportSchema,
  reason: z.string().nullable(),
});

export const healthRecordSchema = z.object({ receivedAt: z.string(), report: healthReportSchema });

export const sessionSchema = z
  .object({
    persistent: z.boolean().describe('Whether the broker holds a persistent session (clean session 0) for this client id.'),
    queued: z.number().int().describe('Messages queued for it: waiting while offline, or sent and not yet acknowledged.'),
    queuedBytes: z.number().int().describe('Payload bytes of those messages.'),
    dropped: z.number().int().describe('Messages dropped from its full queue (the oldest goes; BATON_SESSION_MAX_QUEUED, BATON_SESSION_MAX_QUEUED_BYTES).'),
    expiresAt: z.string().nullable().describe('When the session is deleted if the device stays away (BATON_SESSION_EXPIRY_S); null while connected or without a session.'),
  })
  .describe('The MQTT session of the device (see the protocol reference, Sessions).')
  .meta({ id: 'Session' });

export const deviceDetailSchema = deviceSchema
  .extend({
    connection: connectionSchema.nullable().describe('The latest connect or disconnect.'),
    health: healthRecordSchema.nullable().describe('The latest health report.'),
    session: sessionSchema,
  })
  .meta({ id: 'DeviceDetail' });

export const deviceWithSecretSchema = deviceSchema.extend({
  secret: z.string().describe('The device secret (MQTT password). Shown once; only its hash is stored.'),
});

export const listDevicesQuery = z.object({
  tag: tag.optional(),
  deviceClass: z.string().optional(),
  site: z.string().optional(),
  status: deviceStatusSchema.optional(),
  certExpiresWithinDays: z.coerce.number().int().min(0).max(36_500).optional()
    .describe('Devices whose newest unrevoked certificate expires within this many days, or has expired.'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().optional(),
  // The fleet query on shadow state (broker/shadows/query.ts parses and checks these).
  shadow: z.string().regex(SHADOW_NAME_PATTERN).optional().describe('The named shadow the conditions below look at; default the classic one.'),
  hasDelta: z.enum(['true', 'false']).optional().describe('Devices whose shadow has (true) or has no (false) delta.'),
}).catchall(z.union([z.string(), z.array(z.string())]).describe(
  '`reported.<path>=<value>` or `desired.<path>=<value>`: equality on a leaf, compared as JSON (`3` the number, `"3"` the string, `1.2.0` text); repeat for any of.',
));

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export const siteBody = z
  .object({
    id: siteIdSchema,
    uplinkBytesPerSec: z.number().int().positive(),
    description: z.string().max(1024).optional(),
    timeZone: timeZoneSchema.optional().describe('IANA time zone, for maintenance windows.'),
  })
  .strict();
export const patchSiteBody = siteBody.omit({ id: true }).partial().strict();
export const siteSchema = z
  .object({
    id: z.string(),
    uplinkBytesPerSec: z.number(),
    description: z.string().nullable(),
    timeZone: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Site' });

export const tokenRoleSchema = z.enum(['admin', 'operator', 'viewer', 'integration']);
export const createTokenBody = z.object({ name: z.string().min(1).max(128), role: tokenRoleSchema }).strict();
export const tokenSchema = z
  .object({ id: z.string(), name: z.string(), role: tokenRoleSchema, createdAt: z.string(), lastUsedAt: z.string().nullable() })
  .meta({ id: 'Token' });

/** ISO 8601 or epoch milliseconds. */
const instant = z
  .string()
  .describe('ISO 8601 or epoch milliseconds')
  .transform((v, ctx) => {
    const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: 'expected ISO 8601 or epoch milliseconds' });
      return z.NEVER;
    }
    return ms;
  });

export const telemetryQuery = z.object({
  stream: z.string().max(128).optional().describe('A stream name; empty for the default `telemetry` topic.'),
  from: instant.optional(),
  to: instant.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().regex(/^\d+$/).optional(),
});

export const telemetryRecordSchema = z.object({
  id: z.number().int(),
  stream: z.string().nullable(),
  receivedAt: z.string(),
  data: jsonObject,
});

export const fleetSummarySchema = z.object({
  total: z.number().int(),
  byStatus: z.record(z.string(), z.number().int()),
  byDeviceClass: z.record(z.string(), z.number().int()),
  byFirmwareVersion: z.record(z.string(), z.number().int()),
  bySite: z.record(z.string(), z.number().int()),
});

export const idParams = z.object({ id: z.string().min(1).max(256) });
