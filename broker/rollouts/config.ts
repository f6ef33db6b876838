/**
 * Which jobs the rollout scheduler drives, and the `SchedulerConfig` a job gives it: the job's
 * `rollout`, `abort` and `schedule`, its targets with what the registry knows of each (site,
 * reported link, time zone and windows from the device's attributes, presence), the sites with
 * their uplinks, zones and windows, the firmware's size and the service's egress cap.
 */
import type { JsonObject } from '../../device-sdk/protocol/json.js';
import type { RolloutTarget, SchedulerConfig } from '../../rollouts/config.js';
import { siteSettingsSchema, timeZoneSchema, windowListSchema, type RolloutSettings, type SiteSettings, type WindowSettings } from '../../rollouts/settings.js';
import type { JobDefinition, JobRecord } from '../jobs/model.js';
import type { RolloutSiteRow, RolloutTargetRow } from '../store/sqlite/rollouts.js';

/**
 * Settings that only a staged rollout honours. A job that sets none of them (and is not a
 * firmware job) keeps the jobs feature's plain rate admission, AWS-style.
 */
const STAGED_ROLLOUT_KEYS: (keyof RolloutSettings)[] = ['canary', 'waves', 'successThresholdPct', 'soakS', 'healthGate'];

/**
 * The scheduler drives every firmware job (its bytes are what the budgets are for) and any other
 * job with staged settings (waves, canary, gates, abort criteria, windows, an end behavior).
 * Continuous jobs are left to rate admission: their targets grow after the plan is made.
 */
export function drivenByScheduler(job: Pick<JobDefinition, 'type' | 'continuous' | 'rollout' | 'abort' | 'schedule'>): boolean {
  if (job.continuous) return false;
  if (job.type === 'firmware') return true;
  const staged = STAGED_ROLLOUT_KEYS.some((k) => job.rollout?.[k] !== undefined);
  return staged || job.abort !== null || job.schedule?.['windows'] !== undefined || job.schedule?.['endBehavior'] !== undefined;
}

/** Non-firmware jobs move no bytes worth budgeting: their sites get an uplink no wave can fill. */
const UNBOUNDED_UPLINK = 1e15;

export interface ConfigInputs {
  job: Pick<JobRecord, 'id' | 'type' | 'firmware' | 'rollout' | 'abort' | 'schedule'>;
  targets: readonly RolloutTargetRow[];
  sites: readonly RolloutSiteRow[];
  isOnline(deviceId: string): boolean;
  now: number;
  /** `BATON_EGRESS_BYTES_PER_SEC`; 0 is none. */
  egressBytesPerSec: number;
  /** `BATON_JOBS_MAX_PER_MINUTE`, for jobs that move no firmware and set no `maxPerMinute`. */
  defaultMaxPerMinute: number;
}

// A device's or a site's zone and windows that do not parse are ignored (the next level's apply):
// attributes are free-form, and a bad one must not stop the rollout of the whole job.
function windowsOf(value: unknown): WindowSettings[] | undefined {
  const parsed = windowListSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

function zoneOf(value: unknown): string | undefined {
  const parsed = timeZoneSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

const msOf = (iso: string | null): number | undefined => {
  const ms = iso === null ? NaN : Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
};

/** A target as the scheduler sees it; its own zone and windows come from `attributes.timeZone` / `attributes.windows`. */
export function toTarget(row: RolloutTargetRow, online: boolean, now: number): RolloutTarget {
  const attributes: JsonObject = row.attributes;
  const target: RolloutTarget = { id: row.id, site: row.site };
  if (row.linkKbps !== null && row.linkKbps > 0) target.linkKbps = row.linkKbps;
  const timeZone = zoneOf(attributes['timeZone']);
  if (timeZone) target.timeZone = timeZone;
  const windows = windowsOf(attributes['windows']);
  if (windows) target.windows = windows;
  if (!online) target.offlineSince = msOf(row.lastSeenAt) ?? msOf(row.createdAt) ?? now;
  return target;
}

export function toSiteSettings(row: RolloutSiteRow, firmware: boolean): SiteSettings | undefined {
  const site: SiteSettings = { id: row.id, uplinkBytesPerSec: firmware ? row.uplinkBytesPerSec : UNBOUNDED_UPLINK };
  const timeZone = zoneOf(row.timeZone);
  if (timeZone) site.timeZone = timeZone;
  const windows = windowsOf(row.windows);
  if (windows) site.windows = windows;
  return siteSettingsSchema.safeParse(site).success ? site : undefined;
}

export function schedulerConfig(input: ConfigInputs): SchedulerConfig {
  const { job } = input;
  const firmware = job.type === 'firmware' && job.firmware !== null;
  const rollout: JsonObject = { ...job.rollout };
  if (!firmware && rollout['maxPerMinute'] === undefined) rollout['maxPerMinute'] = input.defaultMaxPerMinute;
  const used = new Set(input.targets.map((t) => t.site).filter((s): s is string => s !== null));
  const sites = input.sites.filter((s) => used.has(s.id)).flatMap((s) => toSiteSettings(s, firmware) ?? []);
  return {
    jobId: job.id,
    targets: input.targets.map((t) => toTarget(t, input.isOnline(t.id), input.now)),
    sites,
    firmwareBytes: firmware ? Math.max(1, job.firmware!.size) : 1,
    rollout: rollout as SchedulerConfig['rollout'],
    abort: (job.abort ?? undefined) as SchedulerConfig['abort'],
    schedule: (job.schedule ?? undefined) as SchedulerConfig['schedule'],
    egressBytesPerSec: firmware && input.egressBytesPerSec > 0 ? input.egressBytesPerSec : undefined,
  };
}
