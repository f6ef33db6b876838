/**
 * Mutual-TLS benchmark (`npx tsx bench/tls.ts`; not part of `npm test`):
 *
 * 1. Connect rate: full mTLS handshake + CONNECT/CONNACK + DISCONNECT, over and over, with the
 *    same Baton-issued P-256 device certificates and the same load client, against Baton's MQTTS
 *    listener and against Debian's Mosquitto (`require_certificate true`,
 *    `use_identity_as_username true`, the same CA and server certificate). Reported side by side,
 *    as a ratio, with each broker's CPU per connect read from /proc.
 * 2. Reconnect storm: `--storm-devices` (10,000) SDK clients connected over mTLS, the broker
 *    restarted (SIGTERM, start again on the same data dir and port), and the time until every
 *    client is back, each reconnecting on the SDK's own full-jitter backoff (1 s base, 60 s cap).
 *
 * Options: --connects 1000 (per round; 0 skips) --rounds 3 --concurrency 32 --rate-devices 200
 * --storm-devices 10000 (0 skips). On a shared machine read the CPU per connect (from /proc, the
 * broker's own) before the connect rate, which the load client and the neighbours also decide.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { createCsr } from '../device-sdk/csr.js';
import { connect, type DeviceClient } from '../device-sdk/index.js';
import { onCleanup, runCleanups, stopChild } from './brokers.js';
import { pool } from '../simulator/fleet.js';
import { ensureMosquitto, freePort, mosquittoVersion } from './mosquitto.js';
import { cpuSeconds } from './proc.js';
import { fmt, percentile, ratio, Samples } from './stats.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef0123456789';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number`);
  return value;
}

interface Tls {
  cert: string;
  key: string;
  ca: string;
}

interface Baton {
  child: ChildProcess;
  httpUrl: string;
  mqttsUrl: string;
}

/** Baton's own entry point (`broker/main.ts`) in a child process, on fixed ports so a restart keeps them. */
async function startBaton(dataDir: string, ports: { http: number; mqtts: number }): Promise<Baton> {
  const env = {
    ...process.env, BATON_DATA_DIR: dataDir, BATON_HOST: '127.0.0.1', BATON_MQTT_PORT: '0', BATON_HTTP_PORT: String(ports.http),
    BATON_MQTTS_PORT: String(ports.mqtts), BATON_ADMIN_TOKEN: ADMIN_TOKEN, BATON_LOG_LEVEL: 'warn',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'broker/main.ts'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  onCleanup(() => stopChild(child));
  const httpUrl = `http://127.0.0.1:${ports.http}`;
  for (const deadline = Date.now() + 60_000; ; await sleep(50)) {
    if (child.exitCode !== null) throw new Error('Baton exited during start-up');
    if (Date.now() > deadline) throw new Error('Baton did not become ready within 60 s');
    if ((await fetch(`${httpUrl}/healthz`).catch(() => undefined))?.status === 200) break;
  }
  return { child, httpUrl, mqttsUrl: `mqtts://127.0.0.1:${ports.mqtts}` };
}

async function api(baton: Baton, path: string, body: unknown): Promise<any> {
  const res = await fetch(`${baton.httpUrl}/api/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`POST ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

/** Registers `count` devices and issues each a certificate for a CSR (one P-256 key shared by all: a bench). */
async function enrol(baton: Baton, prefix: string, count: number): Promise<Array<{ id: string; tls: Tls }>> {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const keyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(5, '0')}`);
  return pool(ids, 32, async (id) => {
    await api(baton, '/devices', { id });
    const issued = await api(baton, `/devices/${id}/certificates`, { csr: await createCsr(id, key) });
    return { id, tls: { cert: issued.certificate, key: keyPem, ca: issued.ca } };
  });
}

/** Mosquitto with the broker's CA and server certificate, requiring client certificates. */
async function startMosquittoTls(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const ca = join(dataDir, 'ca');
  const config = join(dataDir, 'mosquitto-tls.conf');
  writeFileSync(config, [
    `listener ${port} 127.0.0.1`,
    `cafile ${join(ca, 'ca.pem')}`, `certfile ${join(ca, 'server.pem')}`, `keyfile ${join(ca, 'server-key.pem')}`,
    'require_certificate true', 'use_identity_as_username true', 'allow_anonymous false',
    'persistence false', 'set_tcp_nodelay true', 'connection_messages false', 'log_dest stderr', 'log_type error',
    ...(process.getuid?.() === 0 ? ['user root'] : []),
  ].join('\n') + '\n');
  const child = spawn(ensureMosquitto(), ['-c', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  onCleanup(() => stopChild(child));
  await sleep(300);
  if (child.exitCode !== null) throw new Error('mosquitto exited during start-up');
  return { url: `mqtts://127.0.0.1:${port}`, child };
}

interface RateResult {
  perSecond: number;
  cpuMsPerConnect: number;
  p50: number;
  p99: number;
  failures: number;
}

/** `total` connects by `concurrency` workers, each: TLS + CONNECT → CONNACK → DISCONNECT. */
async function connectRate(url: string, pid: number, fleet: Array<{ id: string; tls: Tls }>, total: number, concurrency: number): Promise<RateResult> {
  const once = async (i: number) => {
    const { id, tls } = fleet[i % fleet.length]!;
    const client = await mqtt.connectAsync(url, { clientId: id, ...tls, protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: 30_000 }, false);
    await client.endAsync();
  };
  await pool(Array.from({ length: concurrency * 2 }, (_, i) => i), concurrency, (i) => once(i)); // warm-up
  const latencies = new Samples();
  let failures = 0;
  const cpu0 = cpuSeconds(pid);
  const start = performance.now();
  await pool(Array.from({ length: total }, (_, i) => i), concurrency, async (i) => {
    const t = performance.now();
    await once(i).then(() => latencies.push(performance.now() - t), () => (failures += 1));
  });
  const seconds = (performance.now() - start) / 1000;
  const cpuMsPerConnect = ((cpuSeconds(pid) - cpu0) * 1000) / total;
  return { perSecond: total / seconds, cpuMsPerConnect, p50: percentile(latencies.values(), 50), p99: percentile(latencies.values(), 99), failures };
}

/** SDK clients on mTLS; resolves with them once all are connected. */
async function connectFleet(url: string, fleet: Array<{ id: string; tls: Tls }>): Promise<DeviceClient[]> {
  return pool(fleet, 100, ({ id, tls }) => connect({ url, deviceId: id, ...tls, health: { enabled: false }, connectTimeoutMs: 60_000 }));
}

/** Resolves when every client has emitted `connect` once more. */
function allReconnected(clients: DeviceClient[]): Promise<void> {
  let waiting = clients.length;
  return new Promise((resolve) => {
    for (const c of clients) c.once('connect', () => --waiting === 0 && resolve());
  });
}

async function storm(dataDir: string, ports: { http: number; mqtts: number }, baton: Baton, count: number): Promise<string[]> {
  const t0 = performance.now();
  const fleet = await enrol(baton, 'storm', count);
  const enrolS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const clients = await connectFleet(baton.mqttsUrl, fleet);
  const initialS = (performance.now() - t1) / 1000;
  const back = allReconnected(clients);
  const stopAt = performance.now();
  await stopChild(baton.child);
  const stoppedAt = performance.now();
  const restarted = await startBaton(dataDir, ports);
  const readyAt = performance.now();
  const cpu0 = cpuSeconds(restarted.child.pid!);
  await back;
  const doneAt = performance.now();
  const cpu = cpuSeconds(restarted.child.pid!) - cpu0;
  await pool(clients, 500, (c) => c.close());
  return [
    `Reconnect storm: ${fmt(count)} SDK clients on mutual TLS, full-jitter backoff (1 s base, 60 s cap)`,
    `  enrolment (device + certificate for a CSR, via the API): ${fmt(enrolS, 1)} s; first connect of all: ${fmt(initialS, 1)} s`,
    `  old broker stop (SIGTERM → exit): ${fmt((stoppedAt - stopAt) / 1000, 1)} s`,
    `  new broker process started → all ${fmt(count)} reconnected: ${fmt((doneAt - stoppedAt) / 1000, 1)} s ` +
      `(of which Node + tsx start-up until /healthz: ${fmt((readyAt - stoppedAt) / 1000, 1)} s; clients reconnect from the moment MQTTS listens)`,
    `  /healthz ready → all reconnected: ${fmt((doneAt - readyAt) / 1000, 1)} s; Baton CPU from ready to the last reconnect: ${fmt(cpu, 1)} s`,
  ];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rateLines(results: Array<[string, RateResult]>, total: number, concurrency: number, rounds: number): string[] {
  const [baton, mosq] = [results[0]![1], results[1]![1]];
  return [
    `Mutual-TLS connect rate: ${fmt(total)} connects (TLS handshake, CONNECT/CONNACK, DISCONNECT), ${concurrency} at a time, P-256 certificates; median of ${rounds} alternating rounds`,
    '  broker      connects/s   broker CPU ms/connect   p50 ms   p99 ms   failures',
    ...results.map(([name, r]) =>
      `  ${name.padEnd(10)}  ${fmt(r.perSecond).padStart(10)}   ${fmt(r.cpuMsPerConnect, 2).padStart(21)}   ${fmt(r.p50, 1).padStart(6)}   ${fmt(r.p99, 1).padStart(6)}   ${r.failures}`),
    `  Baton / Mosquitto: ${ratio(baton.perSecond, mosq.perSecond)} the connect rate, ${ratio(baton.cpuMsPerConnect, mosq.cpuMsPerConnect)} the CPU per connect`,
  ];
}

async function main(): Promise<void> {
  const total = option('connects', 1000);
  const concurrency = option('concurrency', 32);
  const stormDevices = option('storm-devices', 10_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-bench-tls-'));
  onCleanup(() => rmSync(dataDir, { recursive: true, force: true }));
  const ports = { http: await freePort(), mqtts: await freePort() };
  const baton = await startBaton(dataDir, ports);
  const lines = [`Node ${process.version}, Mosquitto ${mosquittoVersion(ensureMosquitto())}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`];
  if (total > 0) lines.push(...(await compareConnectRates(dataDir, baton, total, concurrency)));
  process.stdout.write(`${lines.join('\n')}\n`);
  if (stormDevices > 0) process.stdout.write(`${(await storm(dataDir, ports, baton, stormDevices)).join('\n')}\n`);
}

async function compareConnectRates(dataDir: string, baton: Baton, total: number, concurrency: number): Promise<string[]> {
  const fleet = await enrol(baton, 'rate', option('rate-devices', 200));
  const mosquitto = await startMosquittoTls(dataDir);

  // Alternating rounds, so a neighbour's load on a shared machine falls on both brokers alike; the median round counts.
  const rounds = option('rounds', 3);
  const runs: { Baton: RateResult[]; Mosquitto: RateResult[] } = { Baton: [], Mosquitto: [] };
  for (let round = 0; round < rounds; round++) {
    runs.Baton.push(await connectRate(baton.mqttsUrl, baton.child.pid!, fleet, total, concurrency));
    runs.Mosquitto.push(await connectRate(mosquitto.url, mosquitto.child.pid!, fleet, total, concurrency));
  }
  await stopChild(mosquitto.child);
  const median = (results: RateResult[]) => [...results].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(results.length / 2)]!;
  return rateLines([['Baton', median(runs.Baton)], ['Mosquitto', median(runs.Mosquitto)]], total, concurrency, rounds);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench/tls: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => runCleanups());
