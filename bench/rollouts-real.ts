/**
 * The rollout figures of merit (issue 7, "Benchmark") in a real run on loopback:
 * `npx tsx bench/rollouts-real.ts [--devices 10000] [--sites 20] [--block-kb 4] [--budget-kbs 1600]
 * [--tick-ms 500] [--abort-devices 500] [--timeline]` (`npm run bench -- rollouts` runs it after the
 * simulated figures).
 *
 * Baton runs in a child process (bench/rollouts-server.ts, its own core, recording when its
 * pacing granted each firmware byte); this process runs the fleet simulator: every
 * device a real SDK client with its own MQTT connection, reporting its link (`linkKbps`), to
 * which the broker paces its blocks. The issue's fleet (20 sites with 2–50 Mbit/s uplinks,
 * devices on 0.5–8 Mbit/s links, 4 MiB images) is scaled down by one factor, image and rates
 * together, so that the run fits two cores: download times stay as they are, only the latencies
 * (ticks, notification, install) weigh relatively more. Devices are
 * spread over the sites in proportion to their uplinks, so every site has pending devices for
 * most of the run.
 *
 * Figures (each printed with its target):
 * - utilization of each site's budget while it has pending devices: the bytes granted to its
 *   devices ÷ (budget × time from the job's start to its last byte) (≥ 0.90);
 * - the worst 1 s window of each site's grants against budget × 1 s + one block, the link-true
 *   bound of production's pacing (firmware-updates/pacing.ts), and the count of windows above it (0);
 * - makespan (job start to last byte) against the lower bound max over sites of (site bytes ÷
 *   site budget), as the dry run reports it (≤ 1.15);
 * - devices admitted after an abort crossing, in a second rollout where a share fails (0);
 * - the scheduler's CPU per admitted device in the broker (bench/rollouts-server.ts times it).
 * The scheduler's own cost (a 100,000-device plan) is measured in this process.
 */
import '../simulator/threads.js';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import type { TrustedKey } from '../device-sdk/firmware/manifest.js';
import { RolloutScheduler } from '../rollouts/scheduler.js';
import { adminApi, type AdminApi } from '../simulator/api.js';
import { Fleet, planFleet, provisionFleet, type FleetSpec, type SiteSpec } from '../simulator/fleet.js';
import { rolloutJob, uploadImage } from '../simulator/rollout.js';
import { snapshot } from '../simulator/watch.js';
import { busiestWindow } from '../test/helpers/arrivals.js';

const { values: a } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    sites: { type: 'string', default: '20' },
    'block-kb': { type: 'string', default: '4' },
    /** Σ of the sites' firmware budgets, kB/s: what two cores can move in blocks while running the fleet. */
    'budget-kbs': { type: 'string', default: '1600' },
    'tick-ms': { type: 'string', default: '500' },
    'abort-devices': { type: 'string', default: '500' },
    /** Also print the worst site's utilization in 10 s bins. */
    timeline: { type: 'boolean' },
  },
});
const N = Number(a.devices);
const SITES = Number(a.sites);
const BLOCK = Number(a['block-kb']) * 1024;
const TOTAL_BUDGET = Number(a['budget-kbs']) * 1000;
const SHARE = 0.8;
/** The issue's image, 4 MiB, scaled like the rates. */
const imageBytes = (scale: number) => Math.max(1, Math.round((4 * 1024 * 1024 * scale) / BLOCK)) * BLOCK;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const rows: string[][] = [['figure', 'value', 'target', '']];
const notes: string[] = [];
const figure = (name: string, value: string, target: string, ok: boolean | null) => rows.push([name, value, target, ok === null ? '' : ok ? 'ok' : 'MISSED']);
const fmt = (n: number, d = 3) => n.toFixed(d);
const log = (s: string) => process.stderr.write(`${s}\n`);

type Grants = Record<string, [number, number][]>;
interface GrantsReply { grants: Grants; schedulerMs: number }

async function startBaton(dataDir: string, token: string): Promise<{ child: ChildProcess; httpUrl: string; mqttUrl: string; grants(clear?: boolean): Promise<GrantsReply> }> {
  const config = {
    dataDir, host: '127.0.0.1', mqttPort: 0, httpPort: 0, mqttsPort: 0, adminToken: token, logLevel: 'warn',
    jobsTickMs: Number(a['tick-ms']),
  };
  // The broker keeps libuv's default pool: only the simulated devices get more threads.
  const env = { ...process.env, UV_THREADPOOL_SIZE: '4' };
  const child = fork(join(ROOT, 'bench/rollouts-server.ts'), [JSON.stringify(config)], { cwd: ROOT, env, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<{ mqttPort: number; httpPort: number }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`baton exited with ${code}`)));
    child.once('message', (m) => resolve(m as { mqttPort: number; httpPort: number }));
  });
  const grants = (clear = false) => new Promise<GrantsReply>((resolve) => {
    if (clear) return void (child.send({ cmd: 'clear' }), resolve({ grants: {}, schedulerMs: 0 }));
    child.once('message', (m) => resolve(m as GrantsReply));
    child.send({ cmd: 'grants' });
  });
  return { child, httpUrl: `http://127.0.0.1:${ready.httpPort}`, mqttUrl: `mqtt://127.0.0.1:${ready.mqttPort}`, grants };
}

/**
 * The issue's 20 sites, 2 to 50 Mbit/s, evenly spaced, scaled so their budgets sum to
 * `TOTAL_BUDGET`; the same factor scales the devices' 0.5–8 Mbit/s links.
 */
function sitesAndScale(): { sites: SiteSpec[]; scale: number } {
  const real = Array.from({ length: SITES }, (_, k) => (2 + (48 * k) / Math.max(SITES - 1, 1)) * 125_000);
  const scale = TOTAL_BUDGET / (SHARE * real.reduce((s, u) => s + u, 0));
  return { sites: real.map((u, k) => ({ id: `s${String(k + 1).padStart(2, '0')}`, uplinkBytesPerSec: Math.round(u * scale) })), scale };
}

/** Devices per site in proportion to the uplinks (largest remainders), `total` in all. */
function spread(sites: SiteSpec[], total: number): string[] {
  const sum = sites.reduce((s, x) => s + x.uplinkBytesPerSec, 0);
  const exact = sites.map((s) => (total * s.uplinkBytesPerSec) / sum);
  const counts = exact.map(Math.floor);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((x, y) => y[0] - x[0]);
  for (let k = 0; counts.reduce((s, c) => s + c, 0) < total; k++) counts[order[k % order.length]![1]]! += 1;
  return sites.flatMap((s, i) => Array.from({ length: Math.max(counts[i]!, 1) }, () => s.id)).slice(0, total);
}

async function watchEvents(mqttUrl: string, token: string, jobId: string): Promise<{ events: any[]; close(): Promise<void> }> {
  const client = await mqtt.connectAsync(mqttUrl, { clientId: `bench-${jobId}`, username: 'api', password: token, reconnectPeriod: 0 });
  const events: any[] = [];
  client.on('message', (_t, p) => events.push(JSON.parse(p.toString())));
  await client.subscribeAsync(`fleet/events/rollouts/${jobId}`, { qos: 1 });
  return { events, close: () => client.endAsync() };
}

async function waitFor(api: AdminApi, jobId: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await snapshot(api, jobId);
    if (['COMPLETED', 'CANCELED', 'ABORTED'].includes(s.status) && s.counts['IN_PROGRESS'] === 0) return s.status;
    if (Date.now() > deadline) return `${s.status} (timed out)`;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function allExecutions(api: AdminApi, jobId: string): Promise<{ deviceId: string; status: string; admittedAt: string | null }[]> {
  const out = [];
  let cursor: string | null = null;
  do {
    const page: any = await api.must('GET', `/api/v1/jobs/${jobId}/executions?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

function schedulerCost(): void {
  const n = 100_000;
  const sites = Array.from({ length: 200 }, (_, k) => ({ id: `site-${k}`, uplinkBytesPerSec: 1_250_000 }));
  const targets = Array.from({ length: n }, (_, i) => ({ id: `d${i}`, site: `site-${i % 200}`, linkKbps: 500 + (i % 7) * 1000 }));
  const t0 = performance.now();
  const s = RolloutScheduler.create({ jobId: 'cost', targets, sites, firmwareBytes: 4 << 20, rollout: { canary: { percent: 1 }, waves: { growthFactor: 2, initial: 1000 } } });
  s.tick(Date.now());
  const ms = performance.now() - t0;
  figure('scheduler cost: plan + first tick, 100,000 devices', `${fmt(ms / 1000, 2)} s`, '≤ 5 s', ms <= 5000);
}

async function main(): Promise<void> {
  schedulerCost();
  const token = randomBytes(24).toString('base64url');
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-bench-rollouts-'));
  const simDir = mkdtempSync(join(tmpdir(), 'baton-bench-sim-'));
  const { child, httpUrl, mqttUrl, grants } = await startBaton(dataDir, token);
  const api = adminApi(httpUrl, token);
  let fleet: Fleet | undefined;
  try {
    const { sites, scale } = sitesAndScale();
    const IMAGE = imageBytes(scale);
    const siteOfDevice = spread(sites, N);
    notes.push(`scale ${fmt(scale, 4)} of the issue's rates: sites ${(sites[0]!.uplinkBytesPerSec / 1000).toFixed(1)}–${(sites.at(-1)!.uplinkBytesPerSec / 1000).toFixed(1)} kB/s uplink (Σ budget ${TOTAL_BUDGET / 1000} kB/s), links ${(62_500 * scale / 1000).toFixed(1)}–${(1_000_000 * scale / 1000).toFixed(1)} kB/s, image ${IMAGE / 1024} KiB in ${BLOCK / 1024} KiB blocks, ${N} devices, tick ${a['tick-ms']} ms`);
    const spec: FleetSpec = {
      devices: N, prefix: 'b', tag: 'bench', deviceClass: 'bench-sensor', sites,
      linkKbps: { min: 500 * scale, max: 8000 * scale }, clockSkewS: 30, failures: {}, seed: 'bench',
    };
    const planned = planFleet(spec).map((d, i) => ({ ...d, site: siteOfDevice[i]!, linkKbps: Math.round(d.linkKbps * 100) / 100 }));
    log(`registering ${N} devices over ${SITES} sites …`);
    const specs = await provisionFleet(api, spec, planned, 32);
    const keys = (await api.must<{ items: TrustedKey[] }>('GET', '/api/v1/firmware/keys')).items.map(({ keyId, algorithm, publicKeyPem }) => ({ keyId, algorithm, publicKeyPem }));
    fleet = new Fleet(specs, {
      mqttUrl, trustedKeys: keys, deviceClass: spec.deviceClass, version: '1.0.0', dir: simDir,
      installMs: 200, rebootMs: 500, offlineMs: 2000, healthIntervalS: 600,
    });
    log(`connecting ${N} devices …`);
    const c0 = Date.now();
    await fleet.start(100);
    notes.push(`${N} SDK devices connected in ${((Date.now() - c0) / 1000).toFixed(1)} s`);
    await new Promise((r) => setTimeout(r, 2000)); // their first health reports (linkKbps) are stored

    // --- run 1: one wave, the budgets are the only pacing ------------------------------------
    const firmwareId = await uploadImage(api, { deviceClass: spec.deviceClass, version: '2.0.0', imageBytes: IMAGE, chunkBytes: BLOCK });
    const job = rolloutJob({ jobId: 'bench-1', deviceClass: spec.deviceClass, tag: spec.tag, version: '2.0.0', imageBytes: IMAGE, chunkBytes: BLOCK }, firmwareId);
    const dry = await api.must<{ lowerBoundS: number; estimatedCompletionS: number; bytesPerSite: Record<string, number> }>('POST', '/api/v1/jobs?dryRun=true', job);
    log(`dry run: lower bound ${fmt(dry.lowerBoundS, 1)} s, estimate ${fmt(dry.estimatedCompletionS, 1)} s; rolling out …`);
    await grants(true);
    const now = () => performance.timeOrigin + performance.now();
    const t0 = now();
    await api.must('POST', '/api/v1/jobs', job, [201]);
    const status = await waitFor(api, 'bench-1', Math.max(600_000, dry.lowerBoundS * 5000));
    const counts = (await snapshot(api, 'bench-1')).counts;
    notes.push(`run 1: ${status}; ${counts['SUCCEEDED']} succeeded, ${counts['FAILED'] ?? 0} failed; job finished (installs and reboots included) ${fmt((now() - t0) / 1000, 1)} s after creation`);
    const { grants: granted, schedulerMs } = await grants();

    const utils: { site: string; util: number }[] = [];
    let violations = 0;
    let worstWindow = { site: '', ratio: 0, peak: 0, bound: 0 };
    let lastByte = 0;
    for (const site of sites) {
      const list = (granted[site.id] ?? []).map(([at, bytes]) => ({ at, bytes })).sort((x, y) => x.at - y.at);
      if (list.length === 0) continue;
      const budget = site.uplinkBytesPerSec * SHARE;
      const bytes = list.reduce((s, x) => s + x.bytes, 0);
      const end = list.at(-1)!.at;
      lastByte = Math.max(lastByte, end);
      utils.push({ site: site.id, util: bytes / (budget * ((end - t0) / 1000)) });
      // 1 s windows ending at each grant, against the link-true bound: rate × 1 s + one block.
      const cap = budget + BLOCK;
      let start = 0;
      let sum = 0;
      for (const x of list) {
        sum += x.bytes;
        while (list[start]!.at <= x.at - 1000) sum -= list[start++]!.bytes;
        if (sum > cap) violations++;
      }
      const peak = busiestWindow(list, 1000);
      if (peak / cap > worstWindow.ratio) worstWindow = { site: site.id, ratio: peak / cap, peak, bound: Math.round(cap) };
    }
    const sorted = [...utils].sort((x, y) => x.util - y.util);
    if (a.timeline) {
      for (const { site } of sorted.slice(0, 2)) {
        const budget = sites.find((s) => s.id === site)!.uplinkBytesPerSec * SHARE;
        const bins: number[] = [];
        for (const [t, bytes] of granted[site] ?? []) {
          const bin = Math.floor((t - t0) / 10_000);
          bins[bin] = (bins[bin] ?? 0) + bytes;
        }
        notes.push(`${site} per 10 s: ${Array.from(bins, (b) => fmt((b ?? 0) / (budget * 10), 2)).join(' ')}`);
      }
    }
    figure('utilization, worst site (real)', fmt(sorted[0]!.util), '≥ 0.90', sorted[0]!.util >= 0.9);
    figure('utilization, median site (real)', fmt(sorted[Math.floor(sorted.length / 2)]!.util), '≥ 0.90', sorted[Math.floor(sorted.length / 2)]!.util >= 0.9);
    notes.push(`utilization per site (slowest uplink first): ${utils.map((u) => fmt(u.util, 2)).join(' ')}`);
    figure(`worst 1 s window ÷ (0.8·U + one block) (${worstWindow.site}: ${worstWindow.peak} B ÷ ${worstWindow.bound} B)`, fmt(worstWindow.ratio), '≤ 1', worstWindow.ratio <= 1);
    figure('1 s windows above 0.8·U + one block (all sites)', String(violations), '0', violations === 0);
    const admitted1 = (counts['SUCCEEDED'] ?? 0) + (counts['FAILED'] ?? 0);
    figure('scheduler CPU per admitted device (broker)', `${fmt((schedulerMs * 1000) / Math.max(admitted1, 1), 1)} µs`, '(info)', null);
    notes.push(`scheduler: ${fmt(schedulerMs, 0)} ms in the broker over run 1 (${admitted1} devices)`);
    const makespan = (lastByte - t0) / 1000;
    const ratio = makespan / dry.lowerBoundS;
    figure(`makespan ÷ lower bound (${fmt(makespan, 1)} s ÷ ${fmt(dry.lowerBoundS, 1)} s)`, fmt(ratio), '≤ 1.15', ratio <= 1.15);
    figure('dry-run estimate ÷ real makespan', fmt(dry.estimatedCompletionS / makespan), '(info)', null);

    // --- run 2: a share fails its install; the abort criterion stops the rollout -------------
    const subset = fleet.devices.slice(0, Math.min(Number(a['abort-devices']), N));
    const failing = new Set(subset.filter((_, i) => i % 6 === 0).map((d) => d.spec.id)); // ≈ 17 %
    for (const d of fleet.devices) d.spec.failure = failing.has(d.spec.id) ? 'install-fails' : 'none';
    const fw3 = await uploadImage(api, { deviceClass: spec.deviceClass, version: '3.0.0', imageBytes: IMAGE, chunkBytes: BLOCK });
    const events = await watchEvents(mqttUrl, token, 'bench-abort');
    await api.must('POST', '/api/v1/jobs', {
      ...rolloutJob({ jobId: 'bench-abort', deviceClass: spec.deviceClass, tag: spec.tag, version: '3.0.0', imageBytes: IMAGE, chunkBytes: BLOCK, abortPct: 10, abortMinExecuted: 30 }, fw3),
      targets: { devices: subset.map((d) => d.spec.id) },
    }, [201]);
    const abortStatus = await waitFor(api, 'bench-abort', 600_000);
    await new Promise((r) => setTimeout(r, 500));
    const stopped = events.events.find((e) => e.event === 'stopped');
    await events.close();
    const execs = await allExecutions(api, 'bench-abort');
    const stopAt = stopped ? Date.parse(stopped.at) : Infinity;
    const late = execs.filter((e) => e.admittedAt !== null && Date.parse(e.admittedAt) > stopAt).length;
    const admitted = execs.filter((e) => e.admittedAt !== null).length;
    notes.push(`run 2: ${abortStatus}${stopped ? ` (${stopped.reason})` : ''}; ${admitted} of ${subset.length} admitted, ${execs.filter((e) => e.status === 'CANCELED').length} canceled`);
    figure('devices admitted after the abort crossing', String(late), '0', stopped !== undefined && late === 0);
  } finally {
    await fleet?.stop();
    child.send({ cmd: 'stop' });
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(simDir, { recursive: true, force: true });
  }

  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
  process.stdout.write(`\n${line(rows[0]!)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.slice(1).map(line).join('\n')}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
