/**
 * Watching a rollout: a live progress line (done, in progress, failed, waiting, the wave, bytes/s
 * per site against its budget) from the admin API and the devices' own byte counters, and the
 * final report (statuses, per-site throughput, why the rest has not updated, failure modes).
 */
import type { AdminApi } from './api.js';
import type { FailureMode } from './device.js';
import type { Fleet, SiteSpec } from './fleet.js';

export interface JobSnapshot {
  id: string;
  status: string;
  reason: string | null;
  currentWave: number | null;
  counts: Record<string, number>;
  bytesDelivered: number;
}

const TERMINAL = new Set(['COMPLETED', 'CANCELED', 'ABORTED']);
export const isFinished = (s: JobSnapshot) => TERMINAL.has(s.status);

export async function snapshot(api: AdminApi, jobId: string): Promise<JobSnapshot> {
  return api.must<JobSnapshot>('GET', `/api/v1/jobs/${jobId}`);
}

/** 1234567 → "1.2 MB" (decimal, as uplinks are sold). */
export function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB'];
  let u = 0;
  while (n >= 1000 && u < units.length - 1) (n /= 1000), u++;
  return `${n.toFixed(n >= 100 || u === 0 ? 0 : 1)} ${units[u]}`;
}

const budgetOf = (s: SiteSpec) => s.uplinkBytesPerSec * 0.8;

export function progressLine(s: JobSnapshot, rates: Map<string, number>, sites: readonly SiteSpec[], elapsedS: number): string {
  const c = s.counts;
  const failed = (c['FAILED'] ?? 0) + (c['REJECTED'] ?? 0) + (c['TIMED_OUT'] ?? 0);
  const notified = (c['QUEUED'] ?? 0) - (c['waiting'] ?? 0);
  const perSite = sites.map((site) => {
    const rate = rates.get(site.id) ?? 0;
    return `${site.id} ${bytes(rate)}/s ${Math.round((100 * rate) / budgetOf(site))}%`;
  });
  return [
    `${elapsedS.toFixed(0).padStart(4)}s ${s.status}${s.currentWave === null ? '' : ` wave ${s.currentWave}`}`,
    `done ${c['SUCCEEDED'] ?? 0}`,
    `in progress ${(c['IN_PROGRESS'] ?? 0) + notified}`,
    `failed ${failed}`,
    `waiting ${c['waiting'] ?? 0}`,
    ...(c['CANCELED'] ? [`canceled ${c['CANCELED']}`] : []),
    perSite.join(', '),
  ].join(' | ');
}

export interface WatchOptions {
  api: AdminApi;
  jobId: string;
  fleet: Fleet;
  sites: readonly SiteSpec[];
  intervalMs?: number;
  /** Where the line goes; a TTY gets one line rewritten in place, anything else a line every `logEveryMs`. */
  out?: NodeJS.WriteStream;
  logEveryMs?: number;
  /** Give up after this long. */
  timeoutMs?: number;
}

export interface WatchResult {
  final: JobSnapshot;
  elapsedS: number;
  /** Per site: mean bytes/s over the samples in which it moved bytes, the peak sample, and the budget. */
  sites: Record<string, { bytes: number; meanRate: number; peakRate: number; budget: number; activeS: number }>;
  timedOut: boolean;
}

/** Polls until the job finishes (or the timeout), printing the progress line. */
export async function watch(o: WatchOptions): Promise<WatchResult> {
  const started = Date.now();
  const interval = o.intervalMs ?? 1000;
  const out = o.out ?? process.stdout;
  const tty = out.isTTY === true;
  const samples = new Map<string, { sum: number; n: number; peak: number }>();
  let lastLog = 0;
  o.fleet.meter.rates();
  for (;;) {
    await new Promise((r) => setTimeout(r, interval));
    const s = await snapshot(o.api, o.jobId);
    const rates = o.fleet.meter.rates();
    for (const [site, rate] of rates) {
      if (rate <= 0) continue;
      const agg = samples.get(site) ?? { sum: 0, n: 0, peak: 0 };
      agg.sum += rate;
      agg.n += 1;
      agg.peak = Math.max(agg.peak, rate);
      samples.set(site, agg);
    }
    const elapsedS = (Date.now() - started) / 1000;
    const line = progressLine(s, rates, o.sites, elapsedS);
    if (tty) out.write(`\r\x1b[2K${line.slice(0, (out.columns ?? 200) - 1)}`);
    else if (Date.now() - lastLog >= (o.logEveryMs ?? 5000) || isFinished(s)) {
      out.write(`${line}\n`);
      lastLog = Date.now();
    }
    const timedOut = o.timeoutMs !== undefined && Date.now() - started > o.timeoutMs;
    if (isFinished(s) || timedOut) {
      if (tty) out.write('\n');
      const sites: WatchResult['sites'] = {};
      for (const site of o.sites) {
        const agg = samples.get(site.id);
        sites[site.id] = {
          bytes: o.fleet.meter.total.get(site.id) ?? 0,
          meanRate: agg ? agg.sum / agg.n : 0,
          peakRate: agg?.peak ?? 0,
          budget: budgetOf(site),
          activeS: ((agg?.n ?? 0) * interval) / 1000,
        };
      }
      return { final: s, elapsedS, sites, timedOut };
    }
  }
}

/** Reasons (or statuses) of every execution, counted: why the devices not updated have not. */
export async function reasonCounts(api: AdminApi, jobId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let cursor: string | null = null;
  do {
    const page: { items: { status: string; reason: string | null }[]; nextCursor: string | null } =
      await api.must('GET', `/api/v1/jobs/${jobId}/executions?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    for (const e of page.items) {
      if (e.status === 'SUCCEEDED') continue;
      const key = e.reason ?? e.status;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    cursor = page.nextCursor;
  } while (cursor);
  return counts;
}

/** The final report, as text. */
export async function report(o: { api: AdminApi; jobId: string; fleet: Fleet; result: WatchResult }): Promise<string> {
  const { final, sites, elapsedS } = o.result;
  const lines: string[] = [];
  lines.push(`rollout ${o.jobId}: ${final.status}${final.reason ? ` (${final.reason})` : ''} after ${elapsedS.toFixed(1)} s`);
  const c = final.counts;
  lines.push(`  executions: ${Object.entries(c).filter(([k, v]) => k !== 'waiting' && v > 0).map(([k, v]) => `${k} ${v}`).join(', ')}; firmware bytes delivered ${bytes(final.bytesDelivered)}`);
  lines.push('  per site (bytes the devices received; mean and peak bytes/s while moving; budget = 80% of the uplink):');
  for (const [site, f] of Object.entries(sites)) {
    lines.push(`    ${site.padEnd(16)} ${bytes(f.bytes).padStart(9)}   mean ${bytes(f.meanRate)}/s (${Math.round((100 * f.meanRate) / f.budget)}%)   peak ${bytes(f.peakRate)}/s   budget ${bytes(f.budget)}/s   active ${f.activeS.toFixed(0)} s`);
  }
  const reasons = await reasonCounts(o.api, o.jobId);
  if (Object.keys(reasons).length > 0) lines.push(`  not updated, why: ${Object.entries(reasons).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const byMode = new Map<FailureMode, Record<string, number>>();
  for (const d of o.fleet.devices) {
    const m = byMode.get(d.spec.failure) ?? {};
    m[d.state] = (m[d.state] ?? 0) + 1;
    byMode.set(d.spec.failure, m);
  }
  lines.push('  devices by failure mode → their state:');
  for (const [mode, states] of byMode) lines.push(`    ${mode.padEnd(14)} ${Object.entries(states).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (o.fleet.errors.length > 0) lines.push(`  device-side errors (first): ${o.fleet.errors.slice(0, 3).map((e) => `${e.deviceId}: ${e.message}`).join('; ')}`);
  return lines.join('\n');
}
