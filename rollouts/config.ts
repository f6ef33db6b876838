/**
 * What the scheduler is given about one job, validated once and defaulted (fastify's way: options
 * checked against a schema, then frozen), so the rest of the code never re-checks or re-defaults.
 */
import type { z } from 'zod';
import { BatonError } from '../device-sdk/protocol/errors.js';
import { siteBudget } from './admission.js';
import { defaultHealthTolerance, type HealthTolerance } from './gates.js';
import { priorRate } from './rates.js';
import {
  abortSchema,
  rolloutSchema,
  scheduleSchema,
  siteSettingsSchema,
  type AbortInput,
  type AbortSettings,
  type RolloutInput,
  type RolloutSettings,
  type ScheduleInput,
  type SiteSettings,
  type WindowSettings,
} from './settings.js';

/** A device the job targets and can run on (incompatible ones never reach the scheduler). */
export interface RolloutTarget {
  id: string;
  site: string | null;
  /** The link speed the device reports in its health (`linkKbps`), if it does. */
  linkKbps?: number | undefined;
  timeZone?: string | undefined;
  windows?: WindowSettings[] | undefined;
  /** Presence when the job is created: offline since this epoch ms. */
  offlineSince?: number | undefined;
}

/** How admission follows the measured downloads; defaults suit block streaming with 1 s ticks. */
export interface Tuning {
  /** A download expected to end within this many seconds no longer holds budget, so its successor starts in time. */
  lookaheadS: number;
  /** A download with no bytes for this long (or admitted and never started) no longer holds budget. */
  stallS: number;
  /** Time constant of the throughput average. */
  tauS: number;
  /** A site above this share of its budget is saturated: slow samples there say "shared", not "slow device". */
  saturation: number;
}
export const defaultTuning: Tuning = { lookaheadS: 3, stallS: 60, tauS: 3, saturation: 0.9 };

export interface SchedulerConfig {
  /** Seeds the wave plan, so a restart or a dry run plans the same waves. */
  jobId: string;
  targets: readonly RolloutTarget[];
  sites: readonly SiteSettings[];
  firmwareBytes: number;
  rollout?: RolloutInput | undefined;
  abort?: AbortInput | undefined;
  schedule?: ScheduleInput | undefined;
  /** Share of each site's uplink that firmware may use (issue 7: default 80 %). */
  siteShare?: number | undefined;
  /** The whole service's cap (`BATON_EGRESS_BYTES_PER_SEC`); none when absent. */
  egressBytesPerSec?: number | undefined;
  /** Rate assumed for a device with no reported link until it is measured; default 1 Mbit/s. */
  defaultDeviceBytesPerSec?: number | undefined;
  /** Health gating over the soak: on with the default tolerance (`true`) or with margins of its own. */
  healthGate?: boolean | Partial<HealthTolerance> | undefined;
  tuning?: Partial<Tuning> | undefined;
}

export interface ResolvedConfig {
  jobId: string;
  targets: ReadonlyMap<string, RolloutTarget>;
  sites: ReadonlyMap<string, SiteSettings>;
  firmwareBytes: number;
  rollout: RolloutSettings;
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

function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const fields = Object.fromEntries(parsed.error.issues.map((i) => [`${what}.${i.path.join('.')}`, i.message]));
  throw new BatonError('InvalidRequest', `${what} does not match its schema`, { fields });
}

function positive(value: number | undefined, fallback: number, what: string): number {
  const v = value ?? fallback;
  if (!(v > 0)) throw new BatonError('InvalidRequest', `${what} must be positive`);
  return v;
}

export function resolveConfig(config: SchedulerConfig): ResolvedConfig {
  const schedule = config.schedule ? parse(scheduleSchema, config.schedule, 'schedule') : undefined;
  const share = config.siteShare ?? 0.8;
  if (!(share > 0 && share <= 1)) throw new BatonError('InvalidRequest', 'siteShare must be in (0, 1]');
  const health = config.healthGate === true ? defaultHealthTolerance : config.healthGate ? { ...defaultHealthTolerance, ...config.healthGate } : undefined;
  return Object.freeze({
    jobId: config.jobId,
    targets: new Map(config.targets.map((t) => [t.id, t])),
    sites: new Map(config.sites.map((s) => [s.id, parse(siteSettingsSchema, s, `site ${s.id}`)])),
    firmwareBytes: positive(config.firmwareBytes, 0, 'firmwareBytes'),
    rollout: parse(rolloutSchema, config.rollout ?? {}, 'rollout'),
    abort: config.abort ? parse(abortSchema, config.abort, 'abort') : undefined,
    startAt: schedule?.startAt ? Date.parse(schedule.startAt) : undefined,
    endAt: schedule?.endAt ? Date.parse(schedule.endAt) : undefined,
    endBehavior: schedule?.endBehavior ?? 'stop',
    jobWindows: schedule?.windows,
    siteShare: share,
    egressBytesPerSec: positive(config.egressBytesPerSec, Infinity, 'egressBytesPerSec'),
    defaultDeviceBytesPerSec: positive(config.defaultDeviceBytesPerSec, 125_000, 'defaultDeviceBytesPerSec'),
    health,
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
