/**
 * The operator-facing settings of a staged rollout (issue 7, "The settings' shapes"): a job's
 * `rollout`, `abort` and `schedule`, and a site's bandwidth and windows. One schema per shape:
 * the REST edge validates with it, the OpenAPI entry and the TypeScript type come from it.
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { TOPIC_SEGMENT_PATTERN } from '../device-sdk/protocol/topics.js';

const percent = z.number().gt(0).max(100);

/** Whether `tz` is an IANA zone this runtime knows (Intl throws a RangeError otherwise). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function isCron(expression: string): boolean {
  try {
    CronExpressionParser.parse(expression);
    return true;
  } catch {
    return false;
  }
}

const timeZone = z.string().min(1).max(64).refine(isTimeZone, 'not an IANA time zone known to this server');

/** A recurring maintenance window: opens at each cron match, stays open `durationMin` minutes. */
export const windowSchema = z.strictObject({
  cron: z.string().min(1).max(128).refine(isCron, 'not a cron expression'),
  durationMin: z.int().min(1).max(7 * 24 * 60),
  timeZone: timeZone.optional().describe("IANA zone; defaults to the device's, then the site's, then UTC."),
});
export type WindowSettings = z.infer<typeof windowSchema>;

const canary = z
  .strictObject({ count: z.int().min(1).optional(), percent: percent.optional() })
  .describe('Both given: the larger. Neither: one device per site.');

/** Cumulative shares: `[10, 50]` means 10 % of the targets are done after the first wave, 50 % after the second. */
const percentWaves = z.strictObject({
  percents: z
    .array(percent)
    .min(1)
    .max(100)
    .refine((ps) => ps.every((p, i) => i === 0 || p > ps[i - 1]!), 'percents must rise: each is the cumulative share after that wave')
    .optional(),
});
const growthWaves = z.strictObject({
  growthFactor: z.number().min(1).max(100),
  initial: z.int().min(1),
});

export const rolloutSchema = z.strictObject({
  canary: canary.optional(),
  waves: z.union([growthWaves, percentWaves]).optional(),
  successThresholdPct: z.number().min(0).max(100).default(100),
  soakS: z.int().min(0).default(0),
  maxConcurrent: z.int().min(1).optional(),
  maxPerMinute: z.int().min(1).optional(),
});
export type RolloutSettings = z.infer<typeof rolloutSchema>;

export const ABORT_FAILURE_TYPES = ['FAILED', 'REJECTED', 'TIMED_OUT', 'ALL'] as const;
export type AbortFailureType = (typeof ABORT_FAILURE_TYPES)[number];

/** AWS IoT Jobs' abort criterion: crossed when failures ÷ finished ≥ threshold, once `minExecuted` have finished. */
export const abortCriterionSchema = z.strictObject({
  failureType: z.enum(ABORT_FAILURE_TYPES),
  thresholdPercentage: percent,
  minExecuted: z.int().min(1),
});
export type AbortCriterion = z.infer<typeof abortCriterionSchema>;

export const abortSchema = z.strictObject({
  criteria: z.array(abortCriterionSchema).min(1).max(16),
  inProgress: z.enum(['finish', 'cancel']).default('finish'),
});
export type AbortSettings = z.infer<typeof abortSchema>;

export const scheduleSchema = z
  .strictObject({
    startAt: z.iso.datetime({ offset: true }).optional(),
    endAt: z.iso.datetime({ offset: true }).optional(),
    endBehavior: z.enum(['stop', 'cancel']).default('stop'),
    windows: z.array(windowSchema).min(1).max(32).optional(),
  })
  .refine((s) => !s.startAt || !s.endAt || Date.parse(s.endAt) > Date.parse(s.startAt), 'endAt must be after startAt');
export type ScheduleSettings = z.infer<typeof scheduleSchema>;

/** A site as the scheduler sees it: one uplink shared by its devices, maybe its own zone and windows. */
export const siteSettingsSchema = z.strictObject({
  id: z.string().regex(TOPIC_SEGMENT_PATTERN),
  uplinkBytesPerSec: z.number().positive(),
  timeZone: timeZone.optional(),
  windows: z.array(windowSchema).min(1).max(32).optional(),
});
export type SiteSettings = z.infer<typeof siteSettingsSchema>;

/** Input types (defaults not yet applied), for callers that build settings in code. */
export type RolloutInput = z.input<typeof rolloutSchema>;
export type AbortInput = z.input<typeof abortSchema>;
export type ScheduleInput = z.input<typeof scheduleSchema>;
