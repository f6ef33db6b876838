/**
 * Reconnect-storm benchmark (`npx tsx bench/storm.ts`; not part of `npm test`), for
 * BATON_MQTT_MAX_CONNECTS_PER_SEC (issue 11). Baton runs from its own entry point
 * (broker/main.ts) in a child process on fixed loopback ports; `--devices` registered devices
 * (10,000) connect as raw MQTT clients that reconnect like the SDK (bench/storm-clients.ts).
 *
 * 1. Calibration (`--rates`, connects/s): fresh connects paced open-loop at each rate for
 *    `--step-s` seconds with no cap, recording connect latency, the broker's CPU and `/healthz`
 *    latency. Where `/healthz` stays fast is where the cap's default belongs.
 * 2. Storms, once per cap in `--caps` (0 = no cap):
 *    - restart: SIGTERM the broker, start it again with that cap; every device reconnects on its
 *      backoff. Time from the new process to the last device back, and from `/healthz` ready.
 *    - blip: every connection dropped at once while the broker stays up (a network blip, a load
 *      balancer restart): the sharpest storm, all devices back within their first 1 s window.
 *    Each: time until all are back, the worst `/healthz` latency meanwhile (probed from a worker
 *    thread every 50 ms, so the load client's own event loop does not delay it), CONNACK 3s, and
 *    the broker's CPU.
 *
 * Bounded: `--devices` ≤ the open-file limit, every storm ends after `--timeout-s` (180).
 * Options: --devices 10000 --caps 0,1000,0,1000 (rate[:wait ms] each, 0 = no cap; alternate them, the
 * machine's other load varies) --rates 250,500,1000,2000 (empty: skip) --step-s 5
 * --per-address 40 (devices per loopback source address) --timeout-s 180 --triggers restart,blip
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { onCleanup, runCleanups, stopChild } from './brokers.js';
import { registerDevices } from './load-client.js';
import { freePort } from './mosquitto.js';
import { cpuSeconds, machineBusySeconds, openFileLimit } from './proc.js';
import { fmt, percentile } from './stats.js';
import { newCounters, sourceAddress, StormClient, type StormCounters, type StormDevice } from './storm-clients.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef0123456789';
const backoff = { minMs: 1000, maxMs: 60_000 }; // the SDK's defaults

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback;
}
const numbers = (s: string) => s.split(',').filter(Boolean).map(Number);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Baton {
  child: ChildProcess;
  spawnedAt: number;
  readyAt: number;
}

/** A storm's limit: `BATON_MQTT_MAX_CONNECTS_PER_SEC` (0: none) and `BATON_MQTT_CONNECT_WAIT_MS` (undefined: Baton's default). */
interface Cap {
  rate: number;
  waitMs?: number | undefined;
}

const parseCaps = (s: string): Cap[] =>
  s.split(',').filter(Boolean).map((entry) => {
    const [rate, wait] = entry.split(':');
    return { rate: Number(rate), waitMs: wait === undefined ? undefined : Number(wait) };
  });

const capLabel = (cap: Cap) => (cap.rate === 0 ? 'no cap' : `cap ${cap.rate}/s${cap.waitMs === undefined ? '' : `, wait ${cap.waitMs} ms`}`);

async function startBaton(dataDir: string, ports: { http: number; mqtt: number }, cap: Cap): Promise<Baton> {
  const env = {
    ...process.env, BATON_DATA_DIR: dataDir, BATON_HOST: '127.0.0.1', BATON_MQTT_PORT: String(ports.mqtt), BATON_HTTP_PORT: String(ports.http),
    BATON_MQTTS_PORT: '0', BATON_ADMIN_TOKEN: ADMIN_TOKEN, BATON_LOG_LEVEL: 'error', BATON_MQTT_MAX_CONNECTS_PER_SEC: String(cap.rate),
    ...(cap.waitMs === undefined ? {} : { BATON_MQTT_CONNECT_WAIT_MS: String(cap.waitMs) }),
  };
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'broker/main.ts'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  onCleanup(() => stopChild(child));
  for (const deadline = Date.now() + 60_000; ; await sleep(20)) {
    if (child.exitCode !== null) throw new Error('Baton exited during start-up');
    if (Date.now() > deadline) throw new Error('Baton did not become ready within 60 s');
    if ((await fetch(`http://127.0.0.1:${ports.http}/healthz`).catch(() => undefined))?.status === 200) break;
  }
  return { child, spawnedAt, readyAt: performance.now() };
}

/** Polls /healthz from a worker thread (its own event loop): one request at a time, 50 ms apart. */
function startProbe(url: string): { stop(): Promise<Array<{ at: number; ms: number; ok: boolean }>> } {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const samples = []; let running = true;
     parentPort.on('message', () => { running = false; });
     (async () => {
       while (running) {
         const t = performance.now() + performance.timeOrigin;
         let ok = false;
         try { ok = (await fetch(workerData.url, { signal: AbortSignal.timeout(10000) })).status === 200; } catch {}
         samples.push({ at: t, ms: performance.now() + performance.timeOrigin - t, ok });
         await new Promise((r) => setTimeout(r, 50));
       }
       parentPort.postMessage(samples);
     })();`,
    { eval: true, workerData: { url } },
  );
  return {
    stop: () =>
      new Promise((resolve) => {
        worker.once('message', (samples) => {
          void worker.terminate();
          // Back to this thread's performance.now() scale.
          resolve(samples.map((s: { at: number; ms: number; ok: boolean }) => ({ ...s, at: s.at - performance.timeOrigin })));
        });
        worker.postMessage('stop');
      }),
  };
}

interface ProbeFigures {
  p50: number;
  p99: number;
  max: number;
  failed: number;
  count: number;
}

function probeFigures(samples: Array<{ at: number; ms: number; ok: boolean }>, from: number, to: number): ProbeFigures {
  const inWindow = samples.filter((s) => s.at >= from && s.at <= to);
  const ms = Float64Array.from(inWindow.map((s) => s.ms));
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms.length ? Math.max(...ms) : Number.NaN, failed: inWindow.filter((s) => !s.ok).length, count: inWindow.length };
}

class Fleet {
  readonly clients: StormClient[];
  counters: StormCounters = newCounters();
  private waiting: { left: number; resolve: () => void } | undefined;
  readonly upTimes: number[] = [];
  /** Clients back since expectUp (each counted once). */
  private back = new Set<StormClient>();

  constructor(devices: StormDevice[], port: number, perAddress: number) {
    this.clients = devices.map((d, i) => new StormClient(d, port, sourceAddress(i, perAddress), this.counters, backoff, (c) => this.onUp(c)));
  }

  private onUp(client: StormClient): void {
    this.upTimes.push(performance.now());
    if (this.back.has(client)) return;
    this.back.add(client);
    if (this.waiting && --this.waiting.left === 0) this.waiting.resolve();
  }

  /** Resets counters and resolves when `count` more CONNACK 0s arrived, or rejects after `timeoutMs`. */
  expectUp(count: number, timeoutMs: number): Promise<void> {
    this.upTimes.length = 0;
    this.back = new Set();
    Object.assign(this.counters, newCounters());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${count - (this.waiting?.left ?? 0)} of ${count} back within ${timeoutMs / 1000} s`)), timeoutMs);
      this.waiting = { left: count, resolve: () => (clearTimeout(timer), resolve()) };
    });
  }

  upCount(): number {
    return this.clients.filter((c) => c.up).length;
  }

  /** The most CONNACK 0s in any 1 s window since expectUp. */
  peakPerSecond(): number {
    const t = [...this.upTimes].sort((a, b) => a - b);
    let best = 0;
    for (let i = 0, j = 0; i < t.length; i++) {
      while (t[i]! - t[j]! > 1000) j++;
      best = Math.max(best, i - j + 1);
    }
    return best;
  }
}

async function connectedDevices(httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  return Number(text.split('\n').find((l) => l.startsWith('baton_connected_devices '))?.split(' ')[1] ?? Number.NaN);
}

async function waitForGauge(httpUrl: string, want: number, timeoutMs = 60_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(200)) {
    if ((await connectedDevices(httpUrl)) === want) return;
  }
  throw new Error(`baton_connected_devices did not reach ${want}`);
}

/** Fresh connects paced open-loop at `rate`/s for `seconds`, no cap; all closed afterwards. */
async function calibrate(fleet: Fleet, httpUrl: string, pid: number, rate: number, seconds: number): Promise<string> {
  const count = Math.min(fleet.clients.length, Math.round(rate * seconds));
  const clients = fleet.clients.slice(0, count);
  const probe = startProbe(`${httpUrl}/healthz`);
  await sleep(300);
  const cpu0 = cpuSeconds(pid);
  const busy0 = machineBusySeconds();
  const up = fleet.expectUp(count, 120_000);
  const started = performance.now();
  const startTimes = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    startTimes[i] = performance.now();
    clients[i]!.start();
  }
  await up;
  const done = performance.now();
  const cpu = cpuSeconds(pid) - cpu0;
  const busy = machineBusySeconds() - busy0;
  const figures = probeFigures(await probe.stop(), started, done);
  const latencies = Float64Array.from(clients.map((c, i) => c.upAt - startTimes[i]!));
  const wall = (done - started) / 1000;
  for (const c of clients) c.stop();
  await waitForGauge(httpUrl, 0);
  return `  ${fmt(rate).padStart(6)}/s  ${fmt(count / wall).padStart(8)}/s  ${fmt(percentile(latencies, 50), 1).padStart(7)} / ${fmt(percentile(latencies, 99), 1).padEnd(7)}` +
    `  ${fmt(cpu / wall, 2).padStart(6)}  ${fmt((cpu * 1000) / count, 2).padStart(8)}  ${fmt(figures.p50, 1).padStart(6)} / ${fmt(figures.p99, 1).padStart(6)} / ${fmt(figures.max, 1).padEnd(7)}` +
    `  ${fmt(busy / wall, 2)}`;
}

/** The kernel's count of connections dropped because a listen queue was full (machine-wide; NaN without nstat). */
function listenOverflows(): number {
  try {
    const out = execFileSync('nstat', ['-az', 'TcpExtListenOverflows'], { encoding: 'utf8' });
    return Number(out.split('\n').find((l) => l.startsWith('TcpExtListenOverflows'))?.split(/\s+/)[1]);
  } catch {
    return Number.NaN;
  }
}

interface StormResult {
  label: string;
  overflows: number;
  backS: number;
  fromReadyS: number;
  peak: number;
  probe: ProbeFigures;
  cpuS: number;
  counters: StormCounters;
  machineCores: number;
}

function stormLine(r: StormResult): string {
  const refused3 = r.counters.refused[3] ?? 0;
  const other = Object.entries(r.counters.refused).filter(([c]) => c !== '3').map(([c, n]) => `${n}×${c}`).join(' ');
  return `  ${r.label.padEnd(34)} ${fmt(r.backS, 1).padStart(6)} s ${fmt(r.fromReadyS, 1).padStart(6)} s ${fmt(r.peak).padStart(7)}/s  ` +
    `${fmt(r.probe.p50, 1).padStart(6)} / ${fmt(r.probe.p99, 1).padStart(7)} / ${fmt(r.probe.max, 1).padStart(7)}  ${String(r.probe.failed).padStart(3)}  ` +
    `${fmt(r.counters.attempts).padStart(8)}  ${fmt(refused3).padStart(9)}  ${fmt(r.counters.socketFailures).padStart(6)} ${fmt(r.counters.timeouts).padStart(8)} ${fmt(r.overflows).padStart(9)}  ` +
    `${fmt(r.cpuS, 1).padStart(8)} s  ${fmt(r.machineCores, 2).padStart(6)}${other ? `  other CONNACKs: ${other}` : ''}`;
}

async function main(): Promise<void> {
  const limit = openFileLimit();
  let devices = Number(option('devices', '10000'));
  if (devices + 200 > limit) {
    process.stderr.write(`storm: ulimit -n is ${limit}; using ${limit - 200} devices\n`);
    devices = limit - 200;
  }
  const caps = parseCaps(option('caps', '0,1000,0,1000'));
  const rates = numbers(option('rates', '250,500,1000,2000'));
  const stepS = Number(option('step-s', '5'));
  const perAddress = Number(option('per-address', '40'));
  const timeoutMs = Number(option('timeout-s', '180')) * 1000;
  const triggers = option('triggers', 'restart,blip').split(',');

  const dataDir = mkdtempSync(join(tmpdir(), 'baton-bench-storm-'));
  onCleanup(() => rmSync(dataDir, { recursive: true, force: true }));
  const ports = { http: await freePort(), mqtt: await freePort() };
  const httpUrl = `http://127.0.0.1:${ports.http}`;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`Node ${process.version}, ${devices} devices (${perAddress} per loopback source address), load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  let baton = await startBaton(dataDir, ports, { rate: 0 });
  const t0 = performance.now();
  const ids = Array.from({ length: devices }, (_, i) => `storm-${String(i).padStart(5, '0')}`);
  const registered = await registerDevices(httpUrl, ADMIN_TOKEN, ids, 50);
  out(`registered ${devices} devices through the API in ${fmt((performance.now() - t0) / 1000, 1)} s`);
  const fleet = new Fleet(registered, ports.mqtt, perAddress);

  if (rates.length > 0) {
    out(`\nCalibration: fresh connects paced at a fixed rate for ${stepS} s, no cap (each connect: CONNECT → CONNACK 0, then idle)`);
    out('    asked   achieved   connect p50 / p99 ms   cores  CPU ms/conn   /healthz p50 / p99 / max ms   machine cores');
    for (const rate of rates) out(await calibrate(fleet, httpUrl, baton.child.pid!, rate, stepS));
  }

  // Everyone connected, paced at 1,000/s (no cap yet).
  const initial = fleet.expectUp(devices, timeoutMs);
  const started = performance.now();
  for (let i = 0; i < devices; i++) {
    const wait = started + i - performance.now();
    if (wait > 1) await sleep(wait);
    fleet.clients[i]!.start();
  }
  await initial;
  out(`\nall ${devices} connected (paced at 1,000/s) in ${fmt((performance.now() - started) / 1000, 1)} s`);

  out('\nStorms: SDK backoff (full jitter, 1 s base, 60 s cap); CONNACK 3 retried like any failed attempt');
  out('  storm (cap)                        all back  from ready  peak back   /healthz p50 / p99 / max ms  fail  attempts  CONNACK 3  socket timeouts overflows  broker CPU  machine cores');
  let currentCap: Cap = { rate: 0 };
  for (const cap of caps) {
    for (const trigger of triggers) {
      let pid = baton.child.pid!;
      if (trigger === 'blip' && capLabel(currentCap) !== capLabel(cap)) {
        // Not measured: bring up the broker with this cap and everyone back before the blip.
        const back = fleet.expectUp(devices, timeoutMs);
        await stopChild(baton.child);
        baton = await startBaton(dataDir, ports, cap);
        currentCap = cap;
        await back;
        pid = baton.child.pid!;
        await sleep(2000);
      }
      let probe: ReturnType<typeof startProbe>;
      let from: number;
      let readyAt: number;
      let cpu0: number;
      const busy0 = machineBusySeconds();
      const overflows0 = listenOverflows();
      const back = fleet.expectUp(devices, timeoutMs);
      if (trigger === 'restart') {
        from = performance.now();
        await stopChild(baton.child);
        baton = await startBaton(dataDir, ports, cap);
        currentCap = cap;
        pid = baton.child.pid!;
        cpu0 = cpuSeconds(pid);
        readyAt = baton.readyAt;
        probe = startProbe(`${httpUrl}/healthz`);
      } else {
        probe = startProbe(`${httpUrl}/healthz`);
        await sleep(500);
        cpu0 = cpuSeconds(pid);
        from = performance.now();
        readyAt = from;
        for (const c of fleet.clients) c.drop();
      }
      let timedOut = '';
      await back.catch((err: Error) => (timedOut = err.message));
      const doneAt = performance.now();
      const samples = await probe.stop();
      const result: StormResult = {
        label: `${trigger} (${capLabel(cap)})`, overflows: listenOverflows() - overflows0, backS: (doneAt - from) / 1000, fromReadyS: (doneAt - readyAt) / 1000, peak: fleet.peakPerSecond(),
        probe: probeFigures(samples, readyAt, doneAt), cpuS: cpuSeconds(pid) - cpu0, counters: { ...fleet.counters, refused: { ...fleet.counters.refused } },
        machineCores: (machineBusySeconds() - busy0) / ((doneAt - from) / 1000),
      };
      out(stormLine(result) + (timedOut ? `  TIMED OUT: ${timedOut} (${fleet.upCount()} up)` : ''));
      if (timedOut) return;
      await sleep(2000); // the broker writes the storm's connection log before the next one
    }
  }
  for (const c of fleet.clients) c.stop();
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench/storm: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => runCleanups());
