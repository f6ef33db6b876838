/**
 * zod schemas of the jobs admin API: the routes validate with them and /openapi.json is generated
 * from them. `rollout`, `abort` and `schedule` are the scheduler's own schemas (rollouts/settings.ts),
 * so the API accepts exactly what the scheduler runs; they are stored as given.
 */
import { z } from 'zod';
import {
  EXECUTION_STATUSES, JOB_STATUSES, JOB_TYPES, executionStatusSchema, jobIdSchema, jobStatusSchema, progressSchema,
} from '../../device-sdk/protocol/jobs.js';
import { FREE_FORM_MAX_DEPTH, TOPIC_SEGMENT_PATTERN, deviceStatusSchema } from '../../device-sdk/protocol/index.js';
import { abortSchema, rolloutSchema, scheduleSchema } from '../../rollouts/settings.js';
import { deviceIdSchema, freeFormObject, siteIdSchema } from '../http/schemas.js';

const jsonObject = z.record(z.string(), z.unknown());
const tag = z.string().min(1).max(64);
const deviceClass = z.string().regex(TOPIC_SEGMENT_PATTERN);

/** Words of the job topics: a job named so would read like an operation in `devices/{id}/jobs/…`. */
const RESERVED_JOB_IDS = ['get', 'start-next', 'reconcile', 'notify-next'];

export const targetsSchema = z.strictObject({
  devices: z.array(deviceIdSchema).min(1).max(100_000).optional(),
  tags: z.array(tag).min(1).max(64).optional(),
  deviceClass: deviceClass.optional(),
  sites: z.array(siteIdSchema).min(1).max(1000).optional(),
  query: z.strictObject({ tag: tag.optional(), deviceClass: deviceClass.optional(), site: siteIdSchema.optional(), status: deviceStatusSchema.optional() }).optional(),
}).describe('Every selector given must match; a list matches any of its items.');

const retryPolicy = z.strictObject({ failureType: z.enum(['FAILED', 'TIMED_OUT']), maxAttempts: z.int().min(1).max(10) });

export const createJobBody = z.strictObject({
  id: jobIdSchema.refine((id) => !RESERVED_JOB_IDS.includes(id), 'this id is reserved').optional(),
  type: z.enum(JOB_TYPES),
  firmwareId: z.string().regex(TOPIC_SEGMENT_PATTERN).optional().describe('firmware jobs'),
  config: freeFormObject().optional().describe(`config jobs: delivered signed for each device; nested at most ${FREE_FORM_MAX_DEPTH} levels deep`),
  document: freeFormObject().optional().describe(`custom jobs; nested at most ${FREE_FORM_MAX_DEPTH} levels deep`),
  targets: targetsSchema,
  continuous: z.boolean().optional().describe('Also pick up devices that match later.'),
  timeouts: z.strictObject({ inProgressS: z.int().min(1).max(7 * 86_400).optional() }).optional(),
  retries: z.array(retryPolicy).max(2).refine((r) => new Set(r.map((p) => p.failureType)).size === r.length, 'one policy per failureType').optional(),
  rollout: rolloutSchema.optional(),
  abort: abortSchema.optional(),
  schedule: scheduleSchema.optional(),
  description: z.string().max(1024).optional(),
});

const nullableTime = z.string().nullable();

export const jobSchema = z.object({
  id: z.string(),
  type: z.enum(JOB_TYPES),
  status: jobStatusSchema,
  firmwareId: z.string().nullable(),
  firmware: z.object({ id: z.string(), deviceClass: z.string(), version: z.string(), size: z.int() }).nullable(),
  config: jsonObject.nullable(),
  document: jsonObject.nullable(),
  targets: targetsSchema,
  continuous: z.boolean(),
  timeouts: z.object({ inProgressS: z.int().optional() }),
  retries: z.array(retryPolicy),
  rollout: jsonObject.nullable(),
  abort: jsonObject.nullable(),
  schedule: jsonObject.nullable(),
  description: z.string().nullable(),
  reason: z.string().nullable(),
  forceCanceled: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  completedAt: nullableTime,
}).meta({ id: 'Job' });

export const jobDetailSchema = jobSchema.extend({
  counts: z.record(z.string(), z.int()).describe('Executions per status; `waiting`: queued, not yet admitted.'),
  incompatible: z.object({ total: z.int(), devices: z.array(z.object({ deviceId: z.string(), deviceClass: z.string().nullable() })) }),
  bytesDelivered: z.int(),
  currentWave: z.int().nullable(),
  rate: z.object({ maxPerMinute: z.number().nullable(), maxConcurrent: z.number().nullable() }),
}).meta({ id: 'JobDetail' });

export const executionSchema = z.object({
  jobId: z.string(),
  deviceId: z.string(),
  status: executionStatusSchema,
  reason: z.string().nullable().describe(
    'Why the device has not updated. Rollout jobs: `waiting-for-wave`, `outside-window`, `waiting-for-bandwidth`, `offline-since`, `deferred-by-device`, `aborted`, or `notified` (admitted, not started); null once it runs or when its status says why. Plain jobs: `notified` or `waiting`.',
  ),
  reasonDetails: jsonObject.nullable().describe('The reason\'s particulars: `wave` and `currentWave`, `opensAt`, `since`, `until`, `at`.'),
  versionNumber: z.int(),
  executionNumber: z.int(),
  statusDetails: jsonObject.nullable(),
  progress: progressSchema.nullable(),
  queuedAt: z.string(),
  startedAt: nullableTime,
  lastUpdatedAt: z.string(),
  completedAt: nullableTime,
  admittedAt: nullableTime,
  bytesDelivered: z.int(),
}).meta({ id: 'JobExecution' });

const cursor = z.string().regex(/^\d+$/).optional();
const limit = z.coerce.number().int().min(1).max(1000).default(100);

export const createJobQuery = z.object({
  dryRun: z.enum(['true', 'false', '1', '0']).optional().transform((v) => v === 'true' || v === '1').describe('Return the rollout forecast instead of creating the job.'),
});

/** `POST /jobs?dryRun=true`. */
export const forecastSchema = z.object({
  waves: z.array(z.object({ index: z.int(), devices: z.int() })),
  bytesPerSite: z.record(z.string(), z.number()).describe('Firmware bytes each site must carry; `(no site)` for devices without one.'),
  estimatedCompletionS: z.number().describe("Seconds from the rollout's start to its last byte: the rollout replayed wave by wave, in its devices' maintenance windows, on what the rollouts already running leave of each site's budget."),
  lowerBoundS: z.number().describe('max over sites of (site bytes ÷ site budget): no schedule finishes sooner.'),
  targets: z.int(),
  incompatible: z.int(),
}).meta({ id: 'RolloutForecast' });

export const listJobsQuery = z.object({ status: z.enum(JOB_STATUSES).optional(), type: z.enum(JOB_TYPES).optional(), firmwareId: z.string().optional(), limit, cursor });
export const listExecutionsQuery = z.object({ status: z.enum(EXECUTION_STATUSES).optional(), limit, cursor });
/** Optional: a POST without a body (fastify passes null) is a plain cancel. */
export const cancelBody = z.strictObject({
  force: z.boolean().optional().describe('Also cancel executions in progress.'),
  reason: z.string().max(256).optional(),
}).nullish().transform((body) => body ?? {});
export const jobParams = z.object({ id: z.string().min(1).max(256) });
