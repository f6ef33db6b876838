/**
 * The rollout scheduler's figures of merit (issue 7, "Benchmark"), on a simulated clock:
 * `npx tsx bench/rollouts-sim.ts [--devices 100000]`. The throughput run has `--devices` devices
 * (the other scenarios 10,000) over 20 sites whose uplinks span 2 to
 * 50 Mbit/s; devices on 0.5 to 8 Mbit/s links, 30 % not reporting theirs and 10 % overstating it.
 * Images are 4 MiB in 32 KiB blocks so a run takes seconds: only the ratios of download times to
 * latencies matter, and those are kept realistic (a download takes 5 s to minutes).
 */
import { parseArgs } from 'node:util';
import { forecast } from '../rollouts/forecast.js';
import { RolloutScheduler } from '../rollouts/scheduler.js';
import { makeFleet, type Fleet } from '../simulator/discrete/sim-fleet.js';
import { simulate, type SimOptions, type SimReport } from '../simulator/discrete/simulate.js';
import { planWaves } from '../rollouts/waves.js';

const START = Date.parse('2025-03-03T00:00:00Z');
const MiB = 1 << 20;
const { values: args } = parseArgs({ options: { devices: { type: 'string', default: '100000' } } });
const THROUGHPUT_DEVICES = Number(args.devices);
const base = { devices: 10_000, sites: 20, seed: 'bench', uplink: { min: 250_000, max: 6_250_000 }, link: { min: 62_500, max: 1_000_000 }, unknownLinkShare: 0.3, overstateShare: 0.1 };

const rows: string[][] = [['figure', 'value', 'target', '']];
const notes: string[] = [];
function figure(name: string, value: string, target: string, ok: boolean): void {
  rows.push([name, value, target, ok ? 'ok' : 'MISSED']);
}

function run(fleet: Fleet, job: Partial<SimOptions['job']>, extra: Partial<SimOptions> = {}): { report: SimReport; wallMs: number } {
  const t0 = performance.now();
  const report = simulate({ job: { jobId: 'bench', sites: fleet.sites, firmwareBytes: 4 * MiB, ...job }, devices: fleet.devices, startAt: START, blockBytes: 32 * 1024, ...extra });
  return { report, wallMs: performance.now() - t0 };
}

const totalBudget = (fleet: Fleet) => fleet.sites.reduce((sum, s) => sum + s.uplinkBytesPerSec * 0.8, 0);
const fmt = (n: number, digits = 3) => n.toFixed(digits);

function throughput(): void {
  const fleet = makeFleet({ ...base, devices: THROUGHPUT_DEVICES });
  const { report, wallMs } = run(fleet, { egressBytesPerSec: 1.25 * totalBudget(fleet) });
  const utils = Object.values(report.sites).map((s) => s.utilization).sort((a, b) => a - b);
  figure('utilization, worst site (one wave)', fmt(utils[0]!), '≥ 0.95', utils[0]! >= 0.95);
  figure('utilization, median site', fmt(utils[Math.floor(utils.length / 2)]!), '≥ 0.95', utils[Math.floor(utils.length / 2)]! >= 0.95);
  notes.push(`utilization per site, slowest uplink first: ${Object.values(report.sites).map((s) => fmt(s.utilization, 3)).join(' ')}`);
  figure('cap violations (site + service buckets, 1 s windows)', String(report.capViolations), '0', report.capViolations === 0);
  const ratio = report.makespanS / report.lowerBoundS;
  figure(`makespan ÷ lower bound (${fmt(report.makespanS, 0)} s ÷ ${fmt(report.lowerBoundS, 0)} s)`, fmt(ratio), '≤ 1.05', ratio <= 1.05);
  const peak = Object.values(report.sites).reduce((m, s) => Math.max(m, s.peakInFlight), 0);
  figure('peak downloads in flight at one site', String(peak), '(info)', true);
  figure(`simulation wall time, ${THROUGHPUT_DEVICES.toLocaleString('en')} devices`, `${fmt(wallMs / 1000, 1)} s`, '(info)', true);
}

function egressBound(): void {
  const fleet = makeFleet(base);
  const { report } = run(fleet, { egressBytesPerSec: 0.5 * totalBudget(fleet) });
  const ratio = report.makespanS / report.lowerBoundS;
  figure('makespan ÷ lower bound, service cap at half the sites', fmt(ratio), '≤ 1.05', ratio <= 1.05);
  figure('cap violations, service cap binding', String(report.capViolations), '0', report.capViolations === 0);
}

function abort(): void {
  const fleet = makeFleet({ ...base, seed: 'abort', failShare: 0.15 });
  const abortSettings = { criteria: [{ failureType: 'ALL' as const, thresholdPercentage: 10, minExecuted: 100 }] };
  const { report } = run(fleet, { abort: abortSettings });
  const stoppedAt = report.events.find((e) => e.type === 'stopped')?.at;
  figure('devices admitted after the abort crossing (15 % fail)', String(report.admittedAfterStop), '0', report.admittedAfterStop === 0 && stoppedAt !== undefined);
  figure('  admitted in all / canceled (never started)', `${report.admitted} / ${report.statuses.CANCELED ?? 0}`, '(info)', true);
}

function wavesAgainstForecast(): void {
  const fleet = makeFleet({ ...base, seed: 'waves' });
  const job = { rollout: { canary: {}, waves: { percents: [10, 40] }, soakS: 120 }, egressBytesPerSec: 1.25 * totalBudget(fleet) };
  const { report } = run(fleet, job, { installS: 30 });
  const dry = forecast({ jobId: 'bench', sites: fleet.sites, firmwareBytes: 4 * MiB, targets: fleet.devices, ...job }, { installS: 30 });
  const ratio = report.finishedS / dry.estimatedCompletionS;
  figure(`waves: real ÷ dry-run forecast (${fmt(report.finishedS, 0)} s ÷ ${fmt(dry.estimatedCompletionS, 0)} s)`, fmt(ratio), '(info, ≈ 1)', true);
}

function windows(): void {
  const zones = ['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney', 'UTC'];
  const fleet = makeFleet({ ...base, seed: 'windows' });
  const sites = fleet.sites.map((s, i) => ({ ...s, timeZone: zones[i % zones.length]!, windows: [{ cron: '0 1 * * *', durationMin: 180 }] }));
  const { report } = run({ ...fleet, sites }, { sites });
  figure('downloads cut by a window closing (03:00 local)', String(report.windowInterruptions), '0', report.windowInterruptions === 0);
  figure('  days to finish with 3 h nightly windows', fmt(report.makespanS / 86_400, 1), '(info)', true);
}

function cost(): void {
  const n = 100_000;
  const targets = Array.from({ length: n }, (_, i) => ({ id: `d${i}`, site: `site-${i % 200}`, linkKbps: 500 + (i % 7) * 1000 }));
  const sites = Array.from({ length: 200 }, (_, i) => ({ id: `site-${i}`, uplinkBytesPerSec: 1_000_000 + i * 10_000 }));
  const rollout = { canary: { percent: 1 }, waves: { growthFactor: 2, initial: 1000 } };
  let t0 = performance.now();
  planWaves(targets, rollout, 'cost');
  const planMs = performance.now() - t0;
  figure('wave plan, 100,000 devices', `${fmt(planMs, 0)} ms`, '≤ 5000 ms', planMs <= 5000);
  t0 = performance.now();
  const scheduler = RolloutScheduler.create({ jobId: 'cost', targets, sites, firmwareBytes: 4 * MiB, rollout });
  scheduler.tick(START);
  const createMs = performance.now() - t0;
  figure('scheduler create + first tick, 100,000 devices', `${fmt(createMs, 0)} ms`, '≤ 5000 ms', createMs <= 5000);
  t0 = performance.now();
  forecast({ jobId: 'cost', targets, sites, firmwareBytes: 4 * MiB, rollout });
  const dryMs = performance.now() - t0;
  figure('dry-run forecast, 100,000 devices', `${fmt(dryMs, 0)} ms`, '≤ 5000 ms', dryMs <= 5000);
}

for (const scenario of [throughput, egressBound, abort, wavesAgainstForecast, windows, cost]) scenario();
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
for (const note of notes) console.log(note);
if (rows.some((r) => r[3] === 'MISSED')) process.exitCode = 1;
