/**
 * The operator-facing settings of a staged rollout: a job's `rollout` (with its `healthGate`),
 * `abort` and `schedule`, maintenance windows, and a site as the scheduler sees it. Each shape is
 * defined here once: the REST edge validates with it (broker/jobs/http-schemas.ts), the OpenAPI
 * components are generated from it (the `meta` ids below), and the scheduler parses its config
 * with it (config.ts). test/rollout-schemas.test.ts fails if a second copy appears.
 *
 * No field has a zod default: the jobs API stores a job's settings as its author wrote them (an
 * unset field is not a staged setting, broker/rollouts/config.ts), so the defaults the
 * descriptions name are applied by the scheduler when it resolves its config.
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { TOPIC_SEGMENT_PATTERN } from '../device-sdk/protocol/topics.js';

const percent = z.number().gt(0).max(100);

/** Whether `tz` is an IANA zone this runtime knows (Intl throws a RangeError otherwise). */
function isTimeZone(tz: string): boolean {
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

/** An IANA time zone: of a window, a device, a site. */
export const timeZoneSchema = z.string().min(1).max(64).refine(isTimeZone, 'not an IANA time zone known to this server');

/** A recurring maintenance window: opens at each cron match, stays open `durationMin` minutes. */
export const windowSchema = z
  .strictObject({
    cron: z.string().min(1).max(128).refine(isCron, 'not a cron expression'),
    durationMin: z.int().min(1).max(7 * 24 * 60),
    timeZone: timeZoneSchema.optional().describe("IANA zone; defaults to the device's, then the site's, then UTC."),
  })
  .meta({ id: 'MaintenanceWindow' });
export type WindowSettings = z.infer<typeof windowSchema>;

/**
 * A job's, a site's or a device's windows. Never empty: an empty list would read as "no windows"
 * to one reader and "never open" to another; leave the field out for no windows.
 */
export const windowListSchema = z.array(windowSchema).min(1).max(32);

const canary = z
  .strictObject({ count: z.int().min(1).optional(), percent: percent.optional() })
  .describe('Both given: the larger. Neither: one device per site.');

const percentWaves = z.strictObject({
  percents: z
    .array(percent)
    .min(1)
    .max(100)
    .refine((ps) => ps.every((p, i) => i === 0 || p > ps[i - 1]!), 'percents must rise: each is the cumulative share after that wave')
    .describe('Cumulative shares of the targets: `[10, 50]` is 10 % done after the first wave, 50 % after the second, then the rest.'),
});
// A factor of 1 would be a run of equal waves of `initial` devices (thousands of waves, each
// soaked, on a large fleet); `percents` says that in at most 100 waves.
const growthWaves = z.strictObject({
  growthFactor: z.number().gt(1).max(100).describe('Each wave this many times the previous one.'),
  initial: z.int().min(1).describe('Devices in the first wave after the canary.'),
});

/** The margins `healthGate` tolerates, each defaulting to the scheduler's (rollouts/gates.ts). */
export const healthMarginsSchema = z.strictObject({
  reconnectsPerDevice: z.number().min(0).max(1000).optional().describe('More reconnects per updated device than per control device; default 0.5.'),
  rebootsPerDevice: z.number().min(0).max(1000).optional().describe('More reboots per updated device than per control device; default 0.1.'),
  stalePct: z.number().min(0).max(100).optional().describe('More percentage points of stale devices; default 5.'),
});

export const healthGateSchema = z
  .union([z.boolean(), healthMarginsSchema])
  .describe('A wave also fails if, over its soak, its updated devices reconnect, reboot or go stale more than those not yet updated; `true` or margins: on; default: on when soakS > 0.')
  .meta({ id: 'HealthGate' });
export type HealthGateSettings = z.infer<typeof healthGateSchema>;

export const rolloutSchema = z
  .strictObject({
    canary: canary.optional(),
    waves: z.union([percentWaves, growthWaves]).optional(),
    successThresholdPct: z.number().min(0).max(100).optional().describe('A wave passes when at least this share of its finished devices succeeded; default 100.'),
    soakS: z.int().min(0).optional().describe('Seconds to wait after a wave passes before the next starts; default 0.'),
    maxConcurrent: z.int().min(1).optional().describe('Admitted and unfinished, at most.'),
    maxPerMinute: z.int().min(1).max(1_000_000).optional().describe('Admissions in any 60 s, at most (a sliding window).'),
    healthGate: healthGateSchema.optional(),
  })
  .meta({ id: 'RolloutSettings' });
export type RolloutSettings = z.infer<typeof rolloutSchema>;

/** The defaults the scheduler applies to a `rollout` (see the top of this file for why not in zod). */
export const ROLLOUT_DEFAULTS = { successThresholdPct: 100, soakS: 0 } as const;
export type ResolvedRollout = RolloutSettings & { successThresholdPct: number; soakS: number };

export function withRolloutDefaults(rollout: RolloutSettings): ResolvedRollout {
  return {
    ...rollout,
    successThresholdPct: rollout.successThresholdPct ?? ROLLOUT_DEFAULTS.successThresholdPct,
    soakS: rollout.soakS ?? ROLLOUT_DEFAULTS.soakS,
  };
}

export const ABORT_FAILURE_TYPES = ['FAILED', 'REJECTED', 'TIMED_OUT', 'ALL'] as const;
export type AbortFailureType = (typeof ABORT_FAILURE_TYPES)[number];

/** AWS IoT Jobs' abort criterion: crossed when failures ÷ finished ≥ threshold, once `minExecuted` have finished. */
export const abortCriterionSchema = z.strictObject({
  failureType: z.enum(ABORT_FAILURE_TYPES),
  thresholdPercentage: percent,
  minExecuted: z.int().min(1),
});
export type AbortCriterion = z.infer<typeof abortCriterionSchema>;

export const abortSchema = z
  .strictObject({
    criteria: z.array(abortCriterionSchema).min(1).max(16),
    inProgress: z.enum(['finish', 'cancel']).optional().describe('At the crossing: let executions in progress finish (default), or cancel them too.'),
  })
  .meta({ id: 'AbortSettings' });
export type AbortSettings = z.infer<typeof abortSchema>;

const instant = z.iso.datetime({ offset: true });

export const scheduleSchema = z
  .strictObject({
    startAt: instant.optional(),
    endAt: instant.optional(),
    endBehavior: z.enum(['stop', 'cancel']).optional().describe('At endAt: admit no one more (default), or also cancel the executions not started.'),
    windows: windowListSchema.optional(),
  })
  .refine((s) => !s.startAt || !s.endAt || Date.parse(s.endAt) > Date.parse(s.startAt), { message: 'endAt must be after startAt', path: ['endAt'] })
  .meta({ id: 'ScheduleSettings' });
export type ScheduleSettings = z.infer<typeof scheduleSchema>;

/** A site as the scheduler sees it: one uplink shared by its devices, maybe its own zone and windows. */
export const siteSettingsSchema = z.strictObject({
  id: z.string().regex(TOPIC_SEGMENT_PATTERN),
  uplinkBytesPerSec: z.number().positive(),
  timeZone: timeZoneSchema.optional(),
  windows: windowListSchema.optional(),
});
export type SiteSettings = z.infer<typeof siteSettingsSchema>;
