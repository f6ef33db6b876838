/**
 * zod schemas of the jobs admin API: the routes validate with them and /openapi.json is generated
 * from them. `rollout`, `abort` and `schedule` have the shapes the rollouts issue fixed; they are
 * validated here and stored as given for its scheduler.
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import {
  EXECUTION_STATUSES, JOB_STATUSES, JOB_TYPES, executionStatusSchema, jobIdSchema, jobStatusSchema, progressSchema,
} from '../../device-sdk/protocol/jobs.js';
import { FREE_FORM_MAX_DEPTH, TOPIC_SEGMENT_PATTERN, deviceStatusSchema } from '../../device-sdk/protocol/index.js';
import { deviceIdSchema, freeFormObject, siteIdSchema } from '../http/schemas.js';

const jsonObject = z.record(z.string(), z.unknown());
const tag = z.string().min(1).max(64);
const deviceClass = z.string().regex(TOPIC_SEGMENT_PATTERN);
const instant = z.iso.datetime({ offset: true });

/** Words of the job topics: a job named so would read like an operation in `devices/{id}/jobs/…`. */
const RESERVED_JOB_IDS = ['get', 'start-next', 'reconcile', 'notify-next'];

export const targetsSchema = z.strictObject({
  devices: z.array(deviceIdSchema).min(1).max(100_000).optional(),
  tags: z.array(tag).min(1).max(64).optional(),
  deviceClass: deviceClass.optional(),
  sites: z.array(siteIdSchema).min(1).max(1000).optional(),
  query: z.strictObject({ tag: tag.optional(), deviceClass: deviceClass.optional(), site: siteIdSchema.optional(), status: deviceStatusSchema.optional() }).optional(),
}).describe('Every selector given must match; a list matches any of its items.');

const percent = z.number().gt(0).max(100);
export const rolloutSchema = z.strictObject({
  canary: z.strictObject({ count: z.int().min(1).optional(), percent: percent.optional() }).optional(),
  waves: z.union([z.strictObject({ percents: z.array(percent).min(1) }), z.strictObject({ growthFactor: z.number().gt(1), initial: z.int().min(1) })]).optional(),
  successThresholdPct: z.number().min(0).max(100).optional(),
  soakS: z.int().min(0).optional(),
  maxConcurrent: z.int().min(1).optional(),
  maxPerMinute: z.int().min(1).max(1_000_000).optional(),
  healthGate: z.boolean().optional().describe('A wave also fails if its updated devices reconnect, reboot or go stale more than those not yet updated during the soak; default: on when soakS > 0.'),
});

export const abortSchema = z.strictObject({
  criteria: z.array(z.strictObject({ failureType: z.enum(['FAILED', 'REJECTED', 'TIMED_OUT', 'ALL']), thresholdPercentage: percent, minExecuted: z.int().min(1) })).min(1),
  inProgress: z.enum(['finish', 'cancel']).optional(),
});

const validTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};
const validCron = (cron: string) => {
  try {
    CronExpressionParser.parse(cron);
    return true;
  } catch {
    return false;
  }
};

export const scheduleSchema = z.strictObject({
  startAt: instant.optional(),
  endAt: instant.optional(),
  endBehavior: z.enum(['stop', 'cancel']).optional(),
  windows: z.array(z.strictObject({
    cron: z.string().min(1).max(128).refine(validCron, 'not a cron expression'),
    durationMin: z.int().min(1).max(7 * 24 * 60),
    timeZone: z.string().min(1).max(64).refine(validTimeZone, 'not an IANA time zone').optional(),
  })).max(32).optional(),
}).refine((s) => s.startAt === undefined || s.endAt === undefined || Date.parse(s.endAt) > Date.parse(s.startAt), { message: 'endAt must be after startAt', path: ['endAt'] });

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
  estimatedCompletionS: z.number().describe('From the site budgets, the service cap and the slowest links; waves in sequence, windows assumed open.'),
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
