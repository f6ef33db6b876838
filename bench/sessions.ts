/**
 * The sessions bench (issue 10), run by `npm run bench` after the foundation phases:
 *
 * 1. Restart: N persistent sessions (clean session 0, one QoS 1 subscription each, anonymous
 *    clients so no device has to be registered) go offline, M QoS 1 messages are queued for each,
 *    the broker is stopped (SIGTERM; then again with SIGKILL) and started on the same data dir;
 *    from the spawn, the time until it is ready, until every client has reconnected, and until
 *    every one of the N × M messages arrived (checked per session and message), the broker's CPU
 *    and its RSS after. Mosquitto (persistence on) runs the same sequence as a reference.
 * 2. Memory: RSS (and V8 heap) growth per idle connected client holding one QoS 1 subscription,
 *    with a persistent session against a clean one, each on a fresh broker.
 * 3. One SUBSCRIBE of F filters by a persistent session: the broker's longest event-loop stall,
 *    seen from outside as the slowest `/healthz` answer (one request every 5 ms), and from
 *    inside as prom-client's event-loop delay maximum; then the same for the reconnect that
 *    restores those F subscriptions.
 *
 * Options (flag or environment): options.ts. Each Baton is a child process (baton-server.ts) with
 * `--allow-anonymous true`, on a data dir under the bench's temp root.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { MqttClient } from 'mqtt';
import type { StoreCounters } from './baton-metrics.js';
import { startBatonChild, type BatonChild, type BrokerUnderTest } from './brokers.js';
import { ensureMosquitto, startMosquittoPersistent } from './mosquitto.js';
import type { BenchOptions } from './options.js';
import { reading, type MemoryReading } from './phases.js';
import { cpuSeconds, machineBusySeconds, rssKiB } from './proc.js';
import { connectAnonymous, connectSessions, DeliveryTally, endAll, queueMessages } from './session-clients.js';
import { fmt } from './stats.js';

type Log = (line: string) => void;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (fromMs: number, toMs = performance.now()) => (toMs - fromMs) / 1000;

/** CONNECTs (and SUBSCRIBEs) in flight at a time: under the listen backlog, as the foundation bench does. */
const CONNECT_CONCURRENCY = 200;
/** The publisher that fills the queues: connections × publishes awaiting PUBACK on each. */
const PUBLISHERS = 50;
const PUBLISHER_INFLIGHT = 20;
/** Longest wait for every queued message after a restart. */
const DELIVERY_TIMEOUT_MS = 300_000;

export const sessionTargets = { maxStallMs: 50 } as const;

export interface RestartFigures {
  broker: string;
  signal: 'SIGTERM' | 'SIGKILL';
  sessions: number;
  messages: number;
  /** Queueing the messages for the offline sessions before the stop. */
  queueMsgPerS: number;
  /** Signal → process exit. */
  stopS: number;
  /** Spawn → ready (Baton: listening, its IPC message; Mosquitto: its port accepts). */
  readyS: number;
  /** The same with no sessions stored (a restart of the same data dir before the sessions). */
  emptyReadyS: number;
  /** Spawn → the last of the N reconnects acknowledged (CONNACK). */
  connectedS: number;
  /** Spawn → the last queued message received; undefined if not all arrived in time. */
  deliveredS: number | undefined;
  distinct: number;
  duplicates: number;
  wrong: number;
  incompleteSessions: number;
  /** Broker CPU from spawn to all delivered (its whole life so far). */
  brokerCpuS: number;
  /** Load client CPU over the same span. */
  clientCpuS: number;
  /** Everything else on the machine over the same span, in cores: a busy machine skews the times. */
  otherCores: number;
  /** VmRSS right after the last delivery, every client still connected. */
  rssAfterKiB: number;
  /** After a settle (and a full GC in Baton), still connected. */
  settled: MemoryReading;
  /** Baton: its group commits from spawn to all delivered (bookkeeping of every delivery and PUBACK). */
  store: StoreCounters | undefined;
}

export interface MemoryModeFigures {
  clean: boolean;
  clients: number;
  before: MemoryReading;
  connected: MemoryReading;
  /** clean: false only: after the clients disconnected, their sessions stay (offline). */
  offline: MemoryReading | undefined;
}

export interface StallFigures {
  what: string;
  /** SUBSCRIBE → SUBACK, or CONNECT → CONNACK. */
  ackMs: number;
  /** Filters granted (SUBACK codes other than 0x80), or restored (0 if a publish to the last one did not arrive). */
  granted: number;
  /** Slowest /healthz in the window (from the request before the packet to 1 s after its ack). */
  maxProbeMs: number;
  probes: number;
  /** Slowest /healthz in the second before the packet: the probe's own floor. */
  baselineMaxProbeMs: number;
  /** prom-client's event-loop delay maximum in the broker over the window (scraped before and after). */
  brokerLagMaxMs: number;
  /** The same over the idle second before. */
  baselineBrokerLagMaxMs: number;
  /** Lateness of the probe's own 5 ms timer (its worker thread) over the window: near 0 unless the machine is starved. */
  probeTimerLateMs: number;
  /** Other processes on the machine over the window, in cores. */
  otherCores: number;
}

export interface SessionsResult {
  restart: RestartFigures[];
  memory: MemoryModeFigures[];
  stalls: StallFigures[];
  notes: string[];
}

function batonFlags(extra: string[] = []): string[] {
  return ['--', '--allow-anonymous', 'true', ...extra];
}

function profileFlags(options: BenchOptions): string[] {
  const extra = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  return [...extra, ...(options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [])];
}

// --- 1. restart ---

interface RestartTarget {
  name: string;
  start(): Promise<BrokerUnderTest>;
  /** Ends the broker with `signal`. */
  stop(broker: BrokerUnderTest, signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  signals: Array<'SIGTERM' | 'SIGKILL'>;
}

async function measureRestarts(target: RestartTarget, options: BenchOptions, log: Log): Promise<RestartFigures[]> {
  const n = options.sessions;
  const m = options.sessionQueued;
  let broker = await target.start();
  // The same restart with an empty session store: what starting costs anyway (Node, tsx, modules).
  await target.stop(broker, 'SIGTERM');
  let t = performance.now();
  broker = await target.start();
  const emptyReadyS = seconds(t);
  t = performance.now();
  await endAll(await connectSessions(broker.mqttUrl, n, { clean: false, concurrency: CONNECT_CONCURRENCY, subscribe: true }));
  log(`  ${target.name}: ${n} persistent sessions created (CONNECT, SUBSCRIBE, DISCONNECT) in ${seconds(t).toFixed(1)} s`);
  const out: RestartFigures[] = [];
  try {
    for (const signal of target.signals) {
      const queued = await queueMessages(broker.mqttUrl, { sessions: n, perSession: m, publishers: PUBLISHERS, inflight: PUBLISHER_INFLIGHT });
      log(`  ${target.name}: ${queued.messages} QoS 1 messages queued in ${queued.elapsedS.toFixed(1)} s (${fmt(queued.messages / queued.elapsedS)} msg/s)`);
      await sleep(500);
      t = performance.now();
      await target.stop(broker, signal);
      const stopS = seconds(t);

      const busy0 = machineBusySeconds();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      broker = await target.start();
      const readyS = seconds(t0);
      const tally = new DeliveryTally(n, m);
      const clients = await connectSessions(broker.mqttUrl, n, { clean: false, concurrency: CONNECT_CONCURRENCY, onMessage: tally.record });
      const connectedS = seconds(t0);
      const complete = await tally.complete(DELIVERY_TIMEOUT_MS);
      const end = performance.now();
      const brokerCpuS = cpuSeconds(broker.pid);
      const rssAfterKiB = rssKiB(broker.pid);
      const store = await broker.storeCounters?.(); // since the spawn: the restart's own commits
      const cpu = process.cpuUsage(cpu0);
      const clientCpuS = (cpu.user + cpu.system) / 1e6;
      const busyS = machineBusySeconds() - busy0;
      await sleep(1000); // late duplicates, if any
      const settled = await reading(broker); // Baton: after a full GC; Mosquitto: RSS only
      const figures: RestartFigures = {
        broker: target.name,
        signal,
        sessions: n,
        messages: n * m,
        queueMsgPerS: queued.messages / queued.elapsedS,
        stopS,
        readyS,
        emptyReadyS,
        connectedS,
        deliveredS: complete && tally.completedAt !== undefined ? seconds(t0, tally.completedAt) : undefined,
        distinct: tally.distinct,
        duplicates: tally.duplicates,
        wrong: tally.wrong,
        incompleteSessions: tally.incompleteSessions(),
        brokerCpuS,
        clientCpuS,
        otherCores: Math.max(0, busyS - brokerCpuS - clientCpuS) / seconds(t0, end),
        rssAfterKiB,
        settled,
        store: store && { commits: store.commits, writes: store.writes, commitS: store.commitS },
      };
      out.push(figures);
      log(
        `  ${target.name} after ${signal}: ready ${readyS.toFixed(2)} s, ${n} reconnected ${connectedS.toFixed(1)} s, ` +
          (figures.deliveredS === undefined
            ? `NOT all delivered in ${DELIVERY_TIMEOUT_MS / 1000} s (${tally.distinct} of ${n * m}; ${figures.incompleteSessions} sessions short)`
            : `all ${n * m} delivered ${figures.deliveredS.toFixed(1)} s`) +
          `, RSS ${fmt(rssAfterKiB / 1024, 1)} MiB, CPU ${brokerCpuS.toFixed(1)} s`,
      );
      await endAll(clients);
      await sleep(500);
    }
  } finally {
    await broker.stop();
  }
  return out;
}

function batonRestartTarget(root: string, options: BenchOptions): RestartTarget {
  const dir = join(root, 'sessions-baton');
  mkdirSync(dir);
  return {
    name: 'Baton',
    start: () => startBatonChild({ name: 'Baton', args: ['--data-dir', dir, ...batonFlags()], nodeFlags: profileFlags(options) }),
    stop: async (broker, signal) => {
      const { code, signal: ended } = await (broker as BatonChild).kill(signal);
      if (signal === 'SIGTERM' && code !== 0) throw new Error(`Baton did not stop cleanly on SIGTERM (code ${code}, signal ${ended})`);
    },
    signals: options.sessionKill ? ['SIGTERM', 'SIGKILL'] : ['SIGTERM'],
  };
}

function mosquittoRestartTarget(root: string): RestartTarget {
  const dir = join(root, 'sessions-mosquitto');
  mkdirSync(dir);
  const binary = ensureMosquitto();
  return {
    name: 'Mosquitto',
    start: () => startMosquittoPersistent(binary, dir),
    stop: (broker) => broker.stop(), // SIGTERM: Mosquitto saves its database on the way out
    // A SIGKILL loses whatever came since the last autosave (every 1,800 s): nothing to measure.
    signals: ['SIGTERM'],
  };
}

// --- 2. memory per idle session ---

async function measureSessionMemory(root: string, options: BenchOptions, log: Log): Promise<MemoryModeFigures[]> {
  const out: MemoryModeFigures[] = [];
  const n = options.sessionMemoryClients;
  for (const clean of [true, false]) {
    const dir = join(root, `sessions-memory-${clean ? 'clean' : 'persistent'}`);
    mkdirSync(dir);
    const broker = await startBatonChild({ name: 'Baton', args: ['--data-dir', dir, ...batonFlags()] });
    try {
      // A warm-up cycle in the same mode, so the baseline already holds what the first clients
      // load or compile once; a clean CONNECT then ends the warm-up's persistent sessions.
      const warm = Math.min(200, n);
      await endAll(await connectSessions(broker.mqttUrl, warm, { clean, concurrency: CONNECT_CONCURRENCY, subscribe: true }));
      if (!clean) await endAll(await connectSessions(broker.mqttUrl, warm, { clean: true, concurrency: CONNECT_CONCURRENCY }));
      const before = await reading(broker);
      const clients = await connectSessions(broker.mqttUrl, n, { clean, concurrency: CONNECT_CONCURRENCY, subscribe: true });
      const connected = await reading(broker);
      let offline: MemoryReading | undefined;
      await endAll(clients);
      if (!clean) offline = await reading(broker);
      out.push({ clean, clients: n, before, connected, offline });
      log(`  clean: ${clean}: ${n} idle clients, ${fmt(perClientBytes(before.rss * 1024, connected.rss * 1024, n))} B RSS each`);
    } finally {
      await broker.stop();
    }
  }
  return out;
}

const perClientBytes = (before: number | undefined, after: number | undefined, n: number) =>
  before === undefined || after === undefined ? Number.NaN : (after - before) / n;

// --- 3. one large SUBSCRIBE: event-loop stall ---

/**
 * GET /healthz every `periodMs` over a keep-alive agent, from a worker thread (its own event loop,
 * so a pause in the bench's main thread, e.g. mqtt.js encoding a 5,000-filter SUBSCRIBE, neither
 * delays a request nor the reading of its answer). Times are wall-clock ms (timeOrigin + now).
 */
const probeWorker = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { host, port, periodMs } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const now = () => performance.timeOrigin + performance.now();
let samples = [];
let last = now();
let late = 0;
const timer = setInterval(() => {
  const at = now();
  late = Math.max(late, at - last - periodMs);
  last = at;
  http.get({ host, port, path: '/healthz', agent }, (res) => {
    res.resume();
    res.on('end', () => samples.push([at, now() - at]));
  }).on('error', () => samples.push([at, Infinity]));
}, periodMs);
parentPort.on('message', (cmd) => {
  const reply = () => {
    parentPort.postMessage({ samples, late });
    samples = [];
    late = 0;
  };
  if (cmd === 'read') return reply();
  clearInterval(timer);
  setTimeout(() => { reply(); agent.destroy(); parentPort.close(); }, 300);
});
`;

const wallNow = () => performance.timeOrigin + performance.now();

class HealthProbe {
  private readonly worker: Worker;
  private readonly samples: Array<[at: number, ms: number]> = [];
  /** Lateness of the probe's own timer since the previous read (near 0 unless the machine is starved). */
  timerLateMs = 0;

  constructor(url: URL, periodMs: number) {
    this.worker = new Worker(probeWorker, { eval: true, workerData: { host: url.hostname, port: Number(url.port), periodMs } });
  }

  private request(cmd: 'read' | 'stop'): Promise<void> {
    return new Promise((resolve) => {
      this.worker.once('message', (m: { samples: Array<[number, number]>; late: number }) => {
        this.samples.push(...m.samples);
        this.timerLateMs = m.late;
        resolve();
      });
      this.worker.postMessage(cmd);
    });
  }

  /** Fetches the answers so far (and resets the timer lateness). */
  read(): Promise<void> {
    return this.request('read');
  }

  /** Slowest answer to a request sent in [from, to] (wall-clock ms); also how many. */
  max(from: number, to: number): { maxMs: number; count: number } {
    let maxMs = 0;
    let count = 0;
    for (const [at, ms] of this.samples) {
      if (at < from || at > to) continue;
      count++;
      if (ms > maxMs) maxMs = ms;
    }
    return { maxMs, count };
  }

  async stop(): Promise<void> {
    await this.request('stop');
    await this.worker.terminate();
  }
}

/** prom-client's event-loop delay max since the previous scrape (each scrape resets it), in ms. */
async function brokerLagMaxMs(httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('baton_process_nodejs_eventloop_lag_max_seconds '));
  return line ? Number(line.split(' ')[1]) * 1000 : Number.NaN;
}

async function measureStall(
  broker: BatonChild,
  probe: HealthProbe,
  what: string,
  action: () => Promise<number>,
): Promise<StallFigures> {
  await brokerLagMaxMs(broker.httpUrl); // resets the broker's histogram
  await sleep(1000);
  const baselineLag = await brokerLagMaxMs(broker.httpUrl); // an idle second's maximum; resets again
  await probe.read();
  const baseline = probe.max(wallNow() - 1000, wallNow());
  await sleep(50);
  await probe.read(); // resets the probe's timer lateness
  const from = wallNow() - 5; // the probe sent just before the packet counts too
  const busy0 = machineBusySeconds();
  const brokerCpu0 = cpuSeconds(broker.pid);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const granted = await action();
  const ackMs = performance.now() - started;
  await sleep(1000); // what follows the ack: the store's commit, retained messages, events
  const to = wallNow();
  const cpu = process.cpuUsage(cpu0);
  const others = machineBusySeconds() - busy0 - (cpuSeconds(broker.pid) - brokerCpu0) - (cpu.user + cpu.system) / 1e6;
  const otherCores = Math.max(0, others) / ((to - from) / 1000);
  await sleep(300); // answers to the last requests
  await probe.read();
  const window = probe.max(from, to);
  const lag = await brokerLagMaxMs(broker.httpUrl);
  return {
    what,
    ackMs,
    granted,
    maxProbeMs: window.maxMs,
    probes: window.count,
    baselineMaxProbeMs: baseline.maxMs,
    brokerLagMaxMs: lag,
    baselineBrokerLagMaxMs: baselineLag,
    probeTimerLateMs: probe.timerLateMs,
    otherCores,
  };
}

async function measureSubscribeStall(root: string, options: BenchOptions, log: Log): Promise<StallFigures[]> {
  const f = options.subscribeFilters;
  const dir = join(root, 'sessions-subscribe');
  mkdirSync(dir);
  const limit = Math.max(10_000, f + 2); // the issue's BATON_MQTT_MAX_SUBSCRIPTIONS=10000, or room for every filter
  const broker = await startBatonChild({
    name: 'Baton',
    args: ['--data-dir', dir, ...batonFlags(['--mqtt-max-subscriptions', String(limit)])],
    nodeFlags: profileFlags(options),
  });
  const probe = new HealthProbe(new URL(broker.httpUrl), 5);
  const clientId = 'sess-many-filters';
  let client: MqttClient | undefined;
  const out: StallFigures[] = [];
  try {
    client = await connectAnonymous(broker.mqttUrl, clientId, false);
    // Warm the SUBSCRIBE path (JIT, prepared statements) with a small one first.
    await client.subscribeAsync({ 'warm/0': { qos: 1 }, 'warm/1': { qos: 1 } });
    const filters = Object.fromEntries(Array.from({ length: f }, (_, j) => [`big/${j}/+/state`, { qos: 1 as const }]));
    const c = client;
    out.push(
      await measureStall(broker, probe, `SUBSCRIBE of ${fmt(f)} filters (clean: false)`, async () => {
        const granted = await c.subscribeAsync(filters);
        return granted.filter((g) => g.qos !== 128).length;
      }),
    );
    // The same again by a second session, other filters: the code paths are now compiled and hot.
    const second = await connectAnonymous(broker.mqttUrl, `${clientId}-2`, false);
    const otherFilters = Object.fromEntries(Array.from({ length: f }, (_, j) => [`big2/${j}/+/state`, { qos: 1 as const }]));
    out.push(
      await measureStall(broker, probe, `the same by a second session, other filters (warm)`, async () => {
        const granted = await second.subscribeAsync(otherFilters);
        return granted.filter((g) => g.qos !== 128).length;
      }),
    );
    await second.endAsync();
    for (const x of out) log(`  ${x.what}: SUBACK ${fmt(x.ackMs, 1)} ms, slowest /healthz ${fmt(x.maxProbeMs, 1)} ms, broker lag max ${fmt(x.brokerLagMaxMs, 1)} ms`);
    await c.endAsync();
    client = undefined;
    let lastFilterHit: (() => void) | undefined;
    const hit = new Promise<void>((resolve) => (lastFilterHit = resolve));
    const lastTopic = `big/${f - 1}/x/state`;
    out.push(
      await measureStall(broker, probe, `reconnect restoring those ${fmt(f + 2)} subscriptions`, async () => {
        client = await connectAnonymous(broker.mqttUrl, clientId, false, (topic) => topic === lastTopic && lastFilterHit!());
        return f + 2;
      }),
    );
    // Restored for real: a message on the last filter reaches the session.
    const publisher = await connectAnonymous(broker.mqttUrl, 'sess-many-filters-check', true);
    await publisher.publishAsync(lastTopic, 'check', { qos: 1 });
    const restored = await Promise.race([hit.then(() => true), sleep(5000).then(() => false)]);
    await publisher.endAsync();
    const reconnect = out[out.length - 1]!;
    if (!restored) reconnect.granted = 0;
    log(`  reconnect: CONNACK ${fmt(reconnect.ackMs, 1)} ms, slowest /healthz ${fmt(reconnect.maxProbeMs, 1)} ms, broker lag max ${fmt(reconnect.brokerLagMaxMs, 1)} ms${restored ? '' : '; NOT restored'}`);
  } finally {
    await probe.stop();
    await (client as MqttClient | undefined)?.endAsync(true);
    await broker.stop();
  }
  return out;
}

// --- the run and the report ---

export async function runSessionPhases(root: string, options: BenchOptions, log: Log): Promise<SessionsResult> {
  const result: SessionsResult = { restart: [], memory: [], stalls: [], notes: [] };
  if (options.sessions > 0 && options.sessionQueued > 0) {
    log(`sessions: restart with ${options.sessions} persistent sessions × ${options.sessionQueued} queued QoS 1 messages…`);
    result.restart.push(...(await measureRestarts(batonRestartTarget(root, options), options, log)));
    if (options.mosquittoSessions) result.restart.push(...(await measureRestarts(mosquittoRestartTarget(root), options, log)));
  }
  if (options.sessionMemoryClients > 0) {
    log(`sessions: memory, ${options.sessionMemoryClients} idle clients with one subscription, clean and persistent…`);
    result.memory = await measureSessionMemory(root, options, log);
  }
  if (options.subscribeFilters > 0) {
    log(`sessions: one SUBSCRIBE of ${options.subscribeFilters} filters, /healthz every 5 ms…`);
    result.stalls = await measureSubscribeStall(root, options, log);
  }
  return result;
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

export function renderSessionsReport(r: SessionsResult, options: BenchOptions): string {
  const out: string[] = ['Sessions (issue 10): anonymous clients (BATON_ALLOW_ANONYMOUS=true), so no device is registered; one QoS 1 subscription per session.'];
  if (r.restart.length > 0) {
    out.push(
      '',
      `Restart: ${fmt(options.sessions)} persistent sessions × ${options.sessionQueued} queued QoS 1 messages; times from the new process's spawn; ` +
        `${CONNECT_CONCURRENCY} reconnects in flight at a time.`,
      '',
      row(['broker, stopped by', 'sessions', 'messages', 'queued at (msg/s)', 'stop s', 'ready s (no sessions)', 'all reconnected s', 'all delivered s', 'duplicates', 'broker CPU s', 'load-client CPU s', 'RSS after MiB', 'RSS settled MiB', 'other cores']),
      row(Array(14).fill('---')),
    );
    for (const f of r.restart) {
      out.push(row([
        `${f.broker}, ${f.signal}`, fmt(f.sessions), fmt(f.messages), fmt(f.queueMsgPerS), fmt(f.stopS, 2), `${fmt(f.readyS, 2)} (${fmt(f.emptyReadyS, 2)})`, fmt(f.connectedS, 1),
        f.deliveredS === undefined ? `**not all** (${fmt(f.distinct)}; ${fmt(f.incompleteSessions)} sessions short)` : fmt(f.deliveredS, 1),
        fmt(f.duplicates), fmt(f.brokerCpuS, 1), fmt(f.clientCpuS, 1), fmt(f.rssAfterKiB / 1024, 1), fmt(f.settled.rss / 1024, 1), fmt(f.otherCores, 2),
      ]));
      if (f.wrong > 0) out.push(`warning: ${f.broker} delivered ${f.wrong} messages to the wrong session or with a bad payload`);
    }
    for (const f of r.restart) {
      if (!f.store || f.deliveredS === undefined) continue;
      out.push(
        '',
        `${f.broker} after ${f.signal}, spawn to all delivered: ${fmt(f.store.commits)} group commits of ${fmt(f.store.writes)} writes ` +
          `(${fmt(f.store.writes / f.store.commits, 1)} per commit), ${fmt(f.store.commitS, 1)} s inside group commits (writes and fsync) = ` +
          `${fmt((f.store.commitS / f.deliveredS) * 100)} % of the wall time.`,
      );
    }
    const baton = r.restart.find((f) => f.broker === 'Baton' && f.signal === 'SIGTERM');
    const mosq = r.restart.find((f) => f.broker === 'Mosquitto');
    if (baton?.deliveredS !== undefined && mosq?.deliveredS !== undefined) {
      out.push('', `Baton / Mosquitto, SIGTERM restart: all delivered ${(baton.deliveredS / mosq.deliveredS).toFixed(2)}×, RSS after ${(baton.rssAfterKiB / mosq.rssAfterKiB).toFixed(1)}×.`);
    }
  }
  if (r.memory.length > 0) {
    out.push(
      '',
      'Memory per idle client with one QoS 1 subscription (fresh Baton per mode; readings after a full GC, lowest RSS of 3):',
      '',
      row(['session', 'clients', 'RSS before → after (MiB)', 'RSS B/client', 'V8 live heap B/client', 'V8 heap held B/client']),
      row(Array(6).fill('---')),
    );
    for (const m of r.memory) {
      const n = m.clients;
      out.push(row([
        m.clean ? 'clean (clean: true)' : 'persistent (clean: false), connected', fmt(n), `${fmt(m.before.rss / 1024, 1)} → ${fmt(m.connected.rss / 1024, 1)}`,
        fmt(perClientBytes(m.before.rss * 1024, m.connected.rss * 1024, n)),
        fmt(perClientBytes(m.before.heapUsed, m.connected.heapUsed, n)), fmt(perClientBytes(m.before.heapCommitted, m.connected.heapCommitted, n)),
      ]));
      if (m.offline) {
        out.push(row([
          'persistent, after disconnecting (session kept)', fmt(n), `${fmt(m.before.rss / 1024, 1)} → ${fmt(m.offline.rss / 1024, 1)}`,
          fmt(perClientBytes(m.before.rss * 1024, m.offline.rss * 1024, n)),
          fmt(perClientBytes(m.before.heapUsed, m.offline.heapUsed, n)), fmt(perClientBytes(m.before.heapCommitted, m.offline.heapCommitted, n)),
        ]));
      }
    }
    const clean = r.memory.find((m) => m.clean);
    const persistent = r.memory.find((m) => !m.clean);
    if (clean && persistent) {
      const d = (a: MemoryModeFigures, key: 'rss' | 'heapUsed') =>
        key === 'rss' ? perClientBytes(a.before.rss * 1024, a.connected.rss * 1024, a.clients) : perClientBytes(a.before.heapUsed, a.connected.heapUsed, a.clients);
      out.push('', `A persistent session costs ${fmt(d(persistent, 'rss') - d(clean, 'rss'))} B RSS (${fmt(d(persistent, 'heapUsed') - d(clean, 'heapUsed'))} B live heap) more than a clean one, per connected idle client.`);
    }
  }
  if (r.stalls.length > 0) {
    out.push(
      '',
      'Event-loop stall: GET /healthz every 5 ms from a worker thread of the load process (keep-alive); window = from the packet to 1 s after its acknowledgement.',
      '',
      row(['operation', 'ack ms', 'granted / restored', 'slowest /healthz ms (idle second before)', 'requests', 'broker event-loop delay max ms (idle second before)', 'probe timer late ms', 'other cores']),
      row(Array(8).fill('---')),
    );
    for (const s of r.stalls) {
      out.push(row([
        s.what, fmt(s.ackMs, 1), fmt(s.granted), `${fmt(s.maxProbeMs, 1)} (${fmt(s.baselineMaxProbeMs, 1)})`, fmt(s.probes),
        `${fmt(s.brokerLagMaxMs, 1)} (${fmt(s.baselineBrokerLagMaxMs, 1)})`, fmt(s.probeTimerLateMs, 1), fmt(s.otherCores, 2),
      ]));
    }
  }
  out.push('', 'Targets (issue 10):');
  for (const s of r.stalls) {
    out.push(
      `  ${s.what}: longest stall ≤ ${sessionTargets.maxStallMs} ms: slowest /healthz ${fmt(s.maxProbeMs, 1)} ms ` +
        `(broker's own event-loop delay max ${fmt(s.brokerLagMaxMs, 1)} ms) → ${s.maxProbeMs <= sessionTargets.maxStallMs ? 'MET' : 'MISSED'}`,
    );
  }
  for (const f of r.restart) {
    out.push(`  ${f.broker} restart after ${f.signal}: every queued message delivered: ${f.deliveredS === undefined ? 'NO' : `yes, ${f.deliveredS.toFixed(1)} s after spawn`}`);
  }
  out.push(...r.notes);
  return out.join('\n');
}
