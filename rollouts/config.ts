/**
 * What the scheduler is given about one job, validated once and defaulted (fastify's way: options
 * checked against a schema, then frozen), so the rest of the code never re-checks or re-defaults.
 * `schedulerConfigSchema` is also what a stored config is parsed with when the broker reads it
 * back (broker/rollouts/persistence.ts): a stored row is never cast.
 */
import { z } from 'zod';
import { BatonError } from '../device-sdk/protocol/errors.js';
import { siteBudget } from './admission.js';
import { defaultHealthTolerance, type HealthTolerance } from './gates.js';
import { priorRate } from './rates.js';
import {
  abortSchema,
  rolloutSchema,
  scheduleSchema,
  siteSettingsSchema,
  windowListSchema,
  withRolloutDefaults,
  type AbortSettings,
  type HealthGateSettings,
  type ResolvedRollout,
  type SiteSettings,
  type WindowSettings,
} from './settings.js';

/** A device the job targets and can run on (incompatible ones never reach the scheduler). */
export const rolloutTargetSchema = z.object({
  id: z.string().min(1),
  site: z.string().nullable(),
  /** The link speed the device reports in its health (`linkKbps`), if it does. */
  linkKbps: z.number().positive().optional(),
  // Not re-checked against Intl here: the broker passes only zones it checked (broker/rollouts/config.ts),
  // and a 100,000-device config would pay a DateTimeFormat per device at every read.
  timeZone: z.string().min(1).max(64).optional(),
  windows: windowListSchema.optional(),
  /** Presence when the job is created: offline since this epoch ms. */
  offlineSince: z.number().optional(),
});
export type RolloutTarget = z.infer<typeof rolloutTargetSchema>;

/** How admission follows the measured downloads; defaults suit block streaming with 1 s ticks. */
const tuningSchema = z.object({
  /** A download expected to end within this many seconds no longer holds budget, so its successor starts in time. */
  lookaheadS: z.number().min(0),
  /** A download with no bytes for this long (or admitted and never started) no longer holds budget. */
  stallS: z.number().positive(),
  /** Time constant of the throughput average. */
  tauS: z.number().positive(),
  /** A site above this share of its budget is saturated: slow samples there say "shared", not "slow device". */
  saturation: z.number().gt(0).max(1),
});
export type Tuning = z.infer<typeof tuningSchema>;
export const defaultTuning: Tuning = { lookaheadS: 3, stallS: 60, tauS: 3, saturation: 0.9 };

export const schedulerConfigSchema = z.object({
  /** Seeds the wave plan, so a restart or a dry run plans the same waves. */
  jobId: z.string().min(1),
  targets: z.array(rolloutTargetSchema),
  sites: z.array(siteSettingsSchema),
  firmwareBytes: z.number().positive(),
  rollout: rolloutSchema.optional(),
  abort: abortSchema.optional(),
  schedule: scheduleSchema.optional(),
  /** Share of each site's uplink that firmware may use (issue 7: default 80 %). */
  siteShare: z.number().gt(0).max(1).optional(),
  /** The whole service's cap (`BATON_EGRESS_BYTES_PER_SEC`); none when absent. */
  egressBytesPerSec: z.number().positive().optional(),
  /** Rate assumed for a device with no reported link until it is measured; default 1 Mbit/s. */
  defaultDeviceBytesPerSec: z.number().positive().optional(),
  tuning: tuningSchema.partial().optional(),
});
export type SchedulerConfig = z.infer<typeof schedulerConfigSchema>;

export interface ResolvedConfig {
  jobId: string;
  targets: ReadonlyMap<string, RolloutTarget>;
  sites: ReadonlyMap<string, SiteSettings>;
  firmwareBytes: number;
  rollout: ResolvedRollout;
  abort: AbortSettings | undefined;
  startAt: number | undefined;
  endAt: number | undefined;
  endBehavior: 'stop' | 'cancel';
  jobWindows: WindowSettings[] | undefined;
  siteShare: number;
  egressBytesPerSec: number;
  defaultDeviceBytesPerSec: number;
  health: HealthTolerance | undefined;
  tuning: Tuning;
}

/**
 * Checks a config field by field before any use: one from code (`create`, the dry run) or from
 * outside it (a stored one, broker/rollouts/persistence.ts). A mismatch is `InvalidRequest` naming
 * each field (`rollout.waves.percents`).
 */
export function parseSchedulerConfig(json: unknown): SchedulerConfig {
  const parsed = schedulerConfigSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const fields = Object.fromEntries(parsed.error.issues.map((i) => [i.path.join('.') || '(config)', i.message]));
  throw new BatonError('InvalidRequest', 'the scheduler config does not match its schema', { fields });
}

/** Health gating: as the rollout says (`true`, margins, `false`), else on whenever it soaks. */
function healthTolerance(gate: HealthGateSettings | undefined, soakS: number): HealthTolerance | undefined {
  const on = gate ?? soakS > 0;
  if (on === false) return undefined;
  return on === true ? defaultHealthTolerance : { ...defaultHealthTolerance, ...on };
}

export function resolveConfig(input: SchedulerConfig): ResolvedConfig {
  const config = parseSchedulerConfig(input);
  const rollout = withRolloutDefaults(config.rollout ?? {});
  const { schedule } = config;
  return Object.freeze({
    jobId: config.jobId,
    targets: new Map(config.targets.map((t) => [t.id, t])),
    sites: new Map(config.sites.map((s) => [s.id, s])),
    firmwareBytes: config.firmwareBytes,
    rollout,
    abort: config.abort,
    startAt: schedule?.startAt ? Date.parse(schedule.startAt) : undefined,
    endAt: schedule?.endAt ? Date.parse(schedule.endAt) : undefined,
    endBehavior: schedule?.endBehavior ?? 'stop',
    jobWindows: schedule?.windows,
    siteShare: config.siteShare ?? 0.8,
    egressBytesPerSec: config.egressBytesPerSec ?? Infinity,
    defaultDeviceBytesPerSec: config.defaultDeviceBytesPerSec ?? 125_000,
    health: healthTolerance(rollout.healthGate, rollout.soakS),
    tuning: { ...defaultTuning, ...config.tuning },
  });
}

// --- derived per-device facts, shared by the scheduler and the forecast --------------------------

/** Devices without a site, or at a site the job was not told about, share no uplink: key ''. */
export function siteOf(config: ResolvedConfig, id: string): string {
  const site = config.targets.get(id)?.site;
  return site && config.sites.has(site) ? site : '';
}

/** A site's firmware budget (its uplink × the share); unlimited for ''. */
export function budgetOf(config: ResolvedConfig, site: string): number {
  const s = config.sites.get(site);
  return s ? siteBudget(s.uplinkBytesPerSec, config.siteShare) : Infinity;
}

/** A device's rate before it is measured: its reported link, else the default. */
export function priorOf(config: ResolvedConfig, id: string): number {
  return priorRate(config.targets.get(id)?.linkKbps, config.defaultDeviceBytesPerSec);
}
