/**
 * `npx tsx bench/shadows.ts`: device shadows under load (not part of `npm test`).
 *
 * 1. Builds a data dir with a fleet of 100,000 devices and shadows (bench/shadows-fleet.ts) and
 *    starts Baton on it in a child process (bench/baton-server.ts), so the broker has a core of
 *    its own and the load client the other.
 * 2. Registers and connects 1,000 devices, each on its own connection, subscribed to
 *    `devices/{id}/shadow/#`.
 * 3. Saturation: every device keeps updates outstanding; accepted updates/s and round trip
 *    (publish `update` → receive `update/accepted`) p50/p99.
 * 4. Paced: 2,000 updates/s, round trip p50/p99.
 * 5. Operator PATCH of desired state → the device's `update/delta`, p50/p99.
 * 6. Fleet query over the 100,000 shadows, through the admin API.
 * 7. The shadow service alone, in this process (bench/shadows-service.ts): the CPU an update
 *    costs in broker/shadows and its store, apart from MQTT and the disk.
 *
 * The broker reports its group commits on /metrics; the table shows them, and the load client's
 * own event-loop lag, because on a shared 2-core machine either can dominate the round trip.
 *
 * Options (environment): SHADOW_BENCH_DEVICES (1000), SHADOW_BENCH_FLEET (100000),
 * SHADOW_BENCH_SECONDS (10), SHADOW_BENCH_INFLIGHT (2), SHADOW_BENCH_RATE (2000),
 * SHADOW_BENCH_CPU_PROF (a directory: write a V8 CPU profile of the broker there).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { onCleanup, runCleanups, startBatonChild } from './brokers.js';
import { connectDevices, disconnectAll, registerDevices } from './load-client.js';
import { cpuMeter } from './proc.js';
import { buildFleet, fleetQueries, timeEnumeration, timeQuery } from './shadows-fleet.js';
import { serviceCpuPerUpdate, serviceDocumentKinds } from './shadows-service.js';
import { commitDiff, commitStats, paced, patchToDelta, prepareDevices, saturate, type CommitStats, type LoadWindow } from './shadows-load.js';
import { fmt, percentile } from './stats.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const options = {
  devices: env('SHADOW_BENCH_DEVICES', 1000),
  fleet: env('SHADOW_BENCH_FLEET', 100_000),
  seconds: env('SHADOW_BENCH_SECONDS', 10),
  inflight: env('SHADOW_BENCH_INFLIGHT', 2),
  rate: env('SHADOW_BENCH_RATE', 2000),
  cpuProfDir: process.env.SHADOW_BENCH_CPU_PROF,
};

const log = (line: string) => process.stdout.write(`${line}\n`);
const ms = (samples: Float64Array, p: number) => `${fmt(percentile(samples, p), 1)} ms`;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

interface WindowContext {
  brokerCpuS: number;
  commits: CommitStats;
  /** The load client's own event-loop delay p99, ms: when high, the client, not the broker, adds latency. */
  clientLagP99: number;
}

function reportWindow(label: string, w: LoadWindow, c: WindowContext): void {
  const k = c.commits;
  const commits = `${fmt(k.commits / w.elapsedS)}/s × ${fmt(k.writes / k.commits, 1)} writes, ${fmt((1000 * k.commitS) / k.commits, 1)} ms; ${k.over10ms} > 10 ms, ${k.over20ms} > 20 ms`;
  const cpuPerUpdate = (1e6 * c.brokerCpuS) / (w.accepted + w.rejected);
  log(`| ${label} | ${fmt(w.accepted / w.elapsedS)} | ${ms(w.latenciesMs, 50)} | ${ms(w.latenciesMs, 99)} | ${w.rejected} | ${fmt(c.brokerCpuS / w.elapsedS, 2)} | ${fmt(cpuPerUpdate)} µs | ${commits} | ${fmt(c.clientLagP99, 1)} ms |`);
}

/** Runs one measured window with the broker's CPU time, its group commits and the client's lag around it. */
async function measured(label: string, brokerPid: number, httpUrl: string, run: () => Promise<LoadWindow>): Promise<LoadWindow> {
  const cpu = cpuMeter(brokerPid);
  const before = await commitStats(httpUrl);
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const w = await run();
  lag.disable();
  reportWindow(label, w, { brokerCpuS: cpu(), commits: commitDiff(before, await commitStats(httpUrl)), clientLagP99: lag.percentile(99) / 1e6 });
  return w;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'baton-shadow-bench-'));
  onCleanup(() => rmSync(root, { recursive: true, force: true }));

  log(`building a fleet of ${fmt(options.fleet)} devices with shadows in ${root}…`);
  const started = performance.now();
  const { leafRows } = buildFleet(root, options.fleet);
  log(`  ${fmt(leafRows)} leaf rows in ${fmt((performance.now() - started) / 1000, 1)} s`);

  const profile = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const broker = await startBatonChild({ name: 'Baton', args: ['--data-dir', root], nodeFlags: profile });
  const api = { httpUrl: broker.httpUrl, token: broker.adminToken };

  log(`registering and connecting ${options.devices} devices…`);
  const ids = Array.from({ length: options.devices }, (_, i) => `bench-${String(i).padStart(5, '0')}`);
  const registered = await registerDevices(broker.httpUrl, broker.adminToken, ids, 50);
  const clients = await connectDevices(broker.mqttUrl, registered);
  onCleanup(() => disconnectAll(clients));
  const { devices, listen } = await prepareDevices(clients);

  log('warming up…');
  await saturate(devices, listen, 2000, 1);

  log('');
  log(`| shadow updates, ${options.devices} devices | accepted/s | round trip p50 | p99 | rejected | broker CPU (cores) | broker CPU per update | group commits (rate × size, mean, slow) | client lag p99 |`);
  log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |');
  const window = options.seconds * 1000;
  const saturated = await measured(`saturated, ${options.inflight} in flight per device`, broker.pid, broker.httpUrl, () => saturate(devices, listen, window, options.inflight));
  const steady = await measured(`paced at ${fmt(options.rate)}/s`, broker.pid, broker.httpUrl, () => paced(devices, listen, window, options.rate));

  const deltas = await patchToDelta(devices, listen, api, 2000, 200);
  log('');
  log(`REST PATCH desired → device \`update/delta\` (${deltas.length} changes at 200/s): p50 ${ms(deltas, 50)}, p99 ${ms(deltas, 99)}`);

  log('');
  log(`| fleet query over ${fmt(options.fleet)} shadows (limit 100) | matching | median | max (of 10) |`);
  log('| --- | ---: | ---: | ---: |');
  for (const q of fleetQueries) {
    const runs: number[] = [];
    for (let i = 0; i < 10; i++) runs.push((await timeQuery(api.httpUrl, api.token, `${q.query}&limit=100`)).ms);
    log(`| \`${q.query}\` (${q.label}) | ${fmt(q.matches(options.fleet))} | ${fmt(median(runs), 1)} ms | ${fmt(Math.max(...runs), 1)} ms |`);
  }
  const all = await timeEnumeration(api.httpUrl, api.token, 'hasDelta=true', 1000);
  log(`\nEnumerating every device with a delta (hasDelta=true, 1,000 per page): ${fmt(all.total)} devices in ${all.pages} pages, ${fmt(all.ms)} ms`);

  await disconnectAll(clients);
  await broker.stop();

  log('');
  for (const kind of serviceDocumentKinds) {
    log(`shadow service alone (no MQTT, no fsync), ${kind} document: ${fmt(await serviceCpuPerUpdate(root, kind))} µs CPU per update`);
  }
  if (options.cpuProfDir) log(`\nbroker CPU profile written to ${options.cpuProfDir}`);
  log(`\ntargets: ≥ 5,000 accepted updates/s (${saturated.accepted / saturated.elapsedS >= 5000 ? 'met' : 'MISSED'}); ` +
    `p99 < 20 ms at 2,000/s (${percentile(steady.latenciesMs, 99) < 20 ? 'met' : 'MISSED'})`);
}

main()
  .then(() => runCleanups())
  .catch(async (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
    await runCleanups();
    process.exit(1);
  });
