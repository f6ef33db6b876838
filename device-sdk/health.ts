/**
 * What goes into a health report: a default sample of the host from `node:os`, the app's own
 * sample merged on top, validated against the protocol's schema before it is sent. Pure, apart
 * from reading the `os` probe it is given.
 */
import * as os from 'node:os';
import { BatonError } from './protocol/errors.js';
import { healthReportSchema, type HealthReport } from './protocol/schemas.js';
import { issueFields } from './protocol/validation.js';

/** What the app's `health.sample` returns: any fields to add or override. */
export type HealthSample = () => Partial<HealthReport> | Promise<Partial<HealthReport>>;

/** The parts of `node:os` the default sample reads; injected in tests. */
export interface OsProbe {
  uptime(): number;
  freemem(): number;
  cpus(): Array<{ times: { user: number; nice: number; sys: number; idle: number; irq: number } }>;
}

export interface CpuTimes {
  busy: number;
  total: number;
}

export function cpuTimes(cpus: ReturnType<OsProbe['cpus']>): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/**
 * CPU use between two readings, 0–100, or undefined when no time passed. Measured from CPU
 * times rather than `os.loadavg()`, which is always 0 on Windows and is a queue length, not a
 * percentage.
 */
export function cpuPercent(before: CpuTimes, after: CpuTimes): number | undefined {
  const total = after.total - before.total;
  if (total <= 0) return undefined;
  const pct = (100 * (after.busy - before.busy)) / total;
  return Math.round(Math.min(100, Math.max(0, pct)) * 10) / 10;
}

/** The default sample: device uptime, free memory, and CPU use since the previous sample. */
export function createOsSampler(probe: OsProbe = os): () => HealthReport {
  let last = cpuTimes(probe.cpus());
  return () => {
    const now = cpuTimes(probe.cpus());
    const cpuPct = cpuPercent(last, now);
    last = now;
    return {
      uptimeS: Math.floor(probe.uptime()),
      memFreeBytes: Math.floor(probe.freemem()),
      ...(cpuPct === undefined ? {} : { cpuPct }),
    };
  };
}

/**
 * Merges the default sample, the reporting interval and the app's sample (which wins), drops
 * fields set to undefined, and validates the result: a report the broker would reject is never
 * sent. Throws `InvalidRequest` naming the offending fields.
 */
export function composeHealthReport(base: HealthReport, intervalS: number, app: Partial<HealthReport> = {}): HealthReport {
  const merged = Object.fromEntries(
    Object.entries({ ...base, intervalS, ...app }).filter(([, value]) => value !== undefined),
  );
  const parsed = healthReportSchema.safeParse(merged);
  if (!parsed.success) {
    const fields = issueFields(parsed.error);
    throw new BatonError('InvalidRequest', 'health report does not match its schema', { fields });
  }
  return parsed.data;
}
