/**
 * `npx tsx bench/firmware.ts`: firmware delivery figures (not part of `npm test`).
 *
 * 1. Throughput: one device downloads a 64 MiB image in 16 KiB blocks over MQTT with the device
 *    SDK (every block checked against the chunk table and written, the whole image's SHA-256
 *    checked at the end), against a raw TCP transfer of the same file (received, SHA-256 hashed
 *    and written to a file), back to back in each of `--rounds` rounds; ratios within a round.
 * 2. Pacing: `--devices` devices download at once under a global cap (BATON_EGRESS_BYTES_PER_SEC):
 *    the busiest window of received bytes against the cap's envelope (cap × W + burst), and the
 *    cap's utilization (bytes / (cap × duration)).
 *
 * The broker runs in a child process (this file with `--serve`), so it has a core of its own.
 * The devices' state files and image slots go to `--device-dir` (default /dev/shm if present: the
 * SDK fsyncs every block and its state file, which on a real disk measures the disk, not the
 * protocol; pass `--device-dir $TMPDIR` to include it).
 *
 *   npx tsx bench/firmware.ts [--image-mib 64] [--block-kib 16] [--rounds 3] [--devices 200]
 *                             [--fleet-image-kib 512] [--cap-mib 16]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { Counter } from 'prom-client';
import { parseConfig } from '../broker/config.js';
import { buildService } from '../broker/service.js';
import { downloadFirmware } from '../device-sdk/firmware/download.js';
import { mqttJsLink, type FirmwareLink } from '../device-sdk/firmware/link.js';
import { busiestWindow, recordArrivals, type Arrival } from '../test/helpers/arrivals.js';
import type { TrustedKey } from '../device-sdk/firmware/manifest.js';
import { parseTopic, topics } from '../device-sdk/protocol/topics.js';

const MiB = 1024 * 1024;
const log = (line: string) => process.stdout.write(`${line}\n`);

// --- the broker, in a child process ----------------------------------------------------------

interface Ready {
  mqttPort: number;
  httpPort: number;
  rawPort: number;
  adminToken: string;
}

/** Child: Baton on the given settings, plus a raw TCP server that sends the file named on the first line. */
async function serve(settings: Record<string, unknown>): Promise<void> {
  recordGrantsOnRequest();
  const adminToken = randomBytes(32).toString('base64url');
  const config = parseConfig({ ...settings, host: '127.0.0.1', mqttPort: 0, httpPort: 0, mqttsPort: 0, logLevel: 'warn', adminToken });
  const service = await buildService(config, { clock: brokerClock });
  const ports = await service.listen();
  const raw = createServer((socket) => {
    socket.setNoDelay(true);
    socket.once('data', (line) => createReadStream(line.toString().trim()).pipe(socket));
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  process.on('disconnect', () => {
    raw.close();
    void service.close().finally(() => process.exit(0));
  });
  process.send!({ ...ports, rawPort: (raw.address() as AddressInfo).port, adminToken } satisfies Ready);
}

/** The broker's clock in the child, and so its limiter's: sub-millisecond, unlike Date.now. */
const brokerClock = () => performance.timeOrigin + performance.now();

/** An increment of the broker's count of firmware bytes handed to sockets: when, and how many. */
type Grant = [atMs: number, bytes: number];

/**
 * Child: records every increment of `baton_firmware_stream_bytes_total` as it happens (delivery
 * counts a block in the same tick as the limiter grants it and the publish is issued), between
 * `{ cmd: 'record' }` and `{ cmd: 'grants' }`, which sends them to the parent. Bench-only: it
 * wraps prom-client's `Counter` increment in this process, before the service creates its metrics.
 */
function recordGrantsOnRequest(): void {
  let grants: Grant[] | undefined;
  const proto = Counter.prototype as unknown as { incWithoutExemplar: (...args: unknown[]) => void };
  const inc = proto.incWithoutExemplar;
  proto.incWithoutExemplar = function (this: { name: string }, ...args: unknown[]) {
    if (grants && this.name === 'baton_firmware_stream_bytes_total') grants.push([brokerClock(), args[0] as number]);
    return inc.apply(this, args);
  };
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'record') grants = [];
    else if (m.cmd === 'grants') {
      process.send!({ grants });
      grants = undefined;
    }
  });
}

interface Server extends Ready {
  child: ChildProcess;
  api: Api;
  stop(): Promise<void>;
  /** Starts recording the broker's byte grants; `grants()` stops and returns them. */
  record(): void;
  grants(): Promise<Grant[]>;
}

async function startServer(settings: Record<string, unknown>): Promise<Server> {
  const child = fork(new URL(import.meta.url).pathname, ['--serve', JSON.stringify(settings)], { execArgv: ['--import', 'tsx'] });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('message', (m) => resolve(m as Ready));
    child.once('exit', (code) => reject(new Error(`the broker exited (${code})`)));
  });
  const stop = () => new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.disconnect();
  });
  const grants = () => new Promise<Grant[]>((resolve) => {
    child.once('message', (m) => resolve((m as { grants: Grant[] }).grants));
    child.send({ cmd: 'grants' });
  });
  const record = () => child.send({ cmd: 'record' });
  return { ...ready, child, api: apiOf(`http://127.0.0.1:${ready.httpPort}`, ready.adminToken), stop, record, grants };
}

// --- admin API -------------------------------------------------------------------------------

type Api = (method: string, path: string, body?: unknown, init?: RequestInit) => Promise<any>;

function apiOf(base: string, token: string): Api {
  return async (method, path, body, init = {}) => {
    const json = body !== undefined && !(body instanceof ReadableStream) && typeof (body as { pipe?: unknown }).pipe !== 'function';
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(json ? { 'content-type': 'application/json' } : {}), ...init.headers },
      body: json ? JSON.stringify(body) : (body as RequestInit['body']),
      ...(json || body === undefined ? {} : { duplex: 'half' }),
    } as RequestInit);
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text.startsWith('{') ? JSON.parse(text) : text;
  };
}

/**
 * A firmware job for the devices, waiting until every execution is admitted: when the jobs
 * feature narrows delivery, a device may fetch only while it has one.
 */
async function entitle(api: Api, firmwareId: string, devices: string[]): Promise<void> {
  const job = await api('POST', '/api/v1/jobs', { type: 'firmware', firmwareId, targets: { devices } });
  for (let tries = 0; tries < 300; tries++) {
    const { items } = await api('GET', `/api/v1/jobs/${job.id}/executions?limit=1000`);
    if (items.length === devices.length && items.every((e: { admittedAt: string | null }) => e.admittedAt)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the job did not admit every device');
}

async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'w');
  for (let done = 0; done < bytes; done += 4 * MiB) await handle.write(randomBytes(Math.min(4 * MiB, bytes - done)));
  await handle.close();
}

async function uploadFile(api: Api, path: string, query: string): Promise<{ id: string; sha256: string }> {
  return api('POST', `/api/v1/firmware?${query}`, createReadStream(path), { headers: { 'content-type': 'application/octet-stream' } });
}

async function devices(api: Api, mqttPort: number, ids: string[], deviceClass: string): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  for (let i = 0; i < ids.length; i += 20) {
    const batch = await Promise.all(ids.slice(i, i + 20).map(async (id) => {
      const { secret } = await api('POST', '/api/v1/devices', { id, deviceClass });
      return mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: id, username: id, password: secret, reconnectPeriod: 0 });
    }));
    clients.push(...batch);
  }
  return clients;
}

// --- phase 1: one device, MQTT against raw TCP -----------------------------------------------

function rawTcp(port: number, path: string, out: string): Promise<{ seconds: number; sha256: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const file = createWriteStream(out);
    const socket = connect(port, '127.0.0.1', () => socket.write(`${path}\n`));
    socket.on('data', (piece) => hash.update(piece));
    socket.pipe(file);
    file.on('finish', () => resolve({ seconds: (performance.now() - started) / 1000, sha256: hash.digest('hex') }));
    socket.on('error', reject);
  });
}

/** The transport alone: a plain mqtt.js client asking for every block (window 128), no checks, no disk. */
async function mqttOnly(client: MqttClient, deviceId: string, firmwareId: string, blocks: number): Promise<number> {
  const started = performance.now();
  let received = 0;
  let asked = 0;
  const ask = () => {
    while (asked < blocks && asked - received < 128) {
      const count = Math.min(64, blocks - asked);
      void client.publishAsync(topics.streamGet(deviceId, firmwareId), JSON.stringify({ blocks: [[asked, count]] }), { qos: 1 });
      asked += count;
    }
  };
  await client.subscribeAsync(topics.streams(deviceId, firmwareId), { qos: 1 });
  await new Promise<void>((resolve) => {
    const onMessage = (topic: string) => {
      if (parseTopic(topic)?.kind !== 'stream/data') return;
      if (++received === blocks) {
        client.off('message', onMessage);
        resolve();
      } else if (asked - received <= 64) ask();
    };
    client.on('message', onMessage);
    ask();
  });
  await client.unsubscribeAsync(topics.streams(deviceId, firmwareId));
  return (performance.now() - started) / 1000;
}

interface Download {
  link: FirmwareLink;
  deviceId: string;
  keys: TrustedKey[];
  manifest: string;
  dir: string;
}

async function download(d: Download, deviceClass: string, size: number, persistEvery = 1): Promise<number> {
  const started = performance.now();
  await downloadFirmware(d.manifest, {
    link: d.link, deviceId: d.deviceId, trustedKeys: d.keys, deviceClass, freeBytes: 2 * size,
    statePath: join(d.dir, 'state.json'), dir: d.dir, persistEvery,
  });
  return (performance.now() - started) / 1000;
}

interface Round {
  transport: number;
  everyBlock: number;
  every64: number;
  raw: number;
}

interface SingleSetup {
  client: MqttClient;
  firmware: { id: string; sha256: string };
  download: Omit<Download, 'dir'>;
  stored: string;
  rawPort: number;
}

/** One round, every transfer back to back so they share the machine's conditions: seconds each. */
async function measureRound(o: Options, s: SingleSetup, deviceRoot: string, round: number): Promise<Round> {
  const size = o.imageMib * MiB;
  const times: Round = { transport: await mqttOnly(s.client, 'bench-single', s.firmware.id, size / (o.blockKib * 1024)), everyBlock: 0, every64: 0, raw: 0 };
  for (const [key, persistEvery] of [['everyBlock', 1], ['every64', 64]] as const) {
    const dir = join(deviceRoot, `single-${round}-${persistEvery}`);
    await mkdir(dir, { recursive: true });
    times[key] = await download({ ...s.download, dir }, 'bench', size, persistEvery);
    rmSync(dir, { recursive: true, force: true });
  }
  const out = join(deviceRoot, `raw-${round}.bin`);
  const raw = await rawTcp(s.rawPort, s.stored, out);
  rmSync(out, { force: true });
  if (raw.sha256 !== s.firmware.sha256) throw new Error('raw TCP transfer corrupted the image');
  return { ...times, raw: raw.seconds };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Ratios are taken within a round (same machine conditions), then the median over rounds. */
function reportThroughput(o: Options, rounds: Round[]): void {
  const size = o.imageMib * MiB;
  const mib = (seconds: number) => `${(size / MiB / seconds).toFixed(0)} MiB/s`;
  const row = (label: string, key: keyof Round) => {
    const ratios = rounds.map((r) => r.raw / r[key]);
    log(`| ${label} | ${mib(median(rounds.map((r) => r[key])))} | ${ratios.map((x) => x.toFixed(2)).join(', ')} | **${median(ratios).toFixed(2)}×** |`);
  };
  log(`| one device, ${o.imageMib} MiB, ${o.blockKib} KiB blocks, ${rounds.length} rounds | median throughput | ratio to raw TCP, per round | median ratio |`);
  log('| --- | --- | --- | --- |');
  log(`| raw TCP: receive, SHA-256, write to a file | ${mib(median(rounds.map((r) => r.raw)))} | | 1 |`);
  row('MQTT alone: a plain mqtt.js client asking for every block, no checks, no disk', 'transport');
  row('MQTT + SDK: every block verified, written and fsynced; progress recorded after every block', 'everyBlock');
  row('MQTT + SDK: the same, progress recorded every 64 blocks (`persistEvery: 64`)', 'every64');
}

async function throughput(o: Options, root: string, deviceRoot: string): Promise<void> {
  const dataDir = join(root, 'single');
  const server = await startServer({ dataDir });
  try {
    const imagePath = join(root, 'image.bin');
    await writeRandomFile(imagePath, o.imageMib * MiB);
    const firmware = await uploadFile(server.api, imagePath, `deviceClass=bench&version=1&chunkSize=${o.blockKib * 1024}`);
    const keys = (await server.api('GET', '/api/v1/firmware/keys')).items as TrustedKey[];
    const manifest = await server.api('GET', `/api/v1/firmware/${firmware.id}/manifest`) as string;
    const [client] = await devices(server.api, server.mqttPort, ['bench-single'], 'bench');
    await entitle(server.api, firmware.id, ['bench-single']);
    const setup: SingleSetup = {
      client: client!, firmware, rawPort: server.rawPort,
      stored: join(dataDir, 'firmware', `${firmware.sha256}.bin`),
      download: { link: mqttJsLink(client!), deviceId: 'bench-single', keys, manifest },
    };
    await mqttOnly(client!, 'bench-single', firmware.id, (o.imageMib * MiB) / (o.blockKib * 1024)); // warm-up: JIT, page cache
    const rounds: Round[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      const r = await measureRound(o, setup, deviceRoot, round);
      const mib = (seconds: number) => `${(o.imageMib / seconds).toFixed(0)} MiB/s`;
      log(`  round ${round}: MQTT alone ${mib(r.transport)}; with the SDK ${mib(r.everyBlock)} (progress every block), ${mib(r.every64)} (every 64); raw TCP ${mib(r.raw)}`);
      rounds.push(r);
    }
    log('');
    reportThroughput(o, rounds);
    await client!.endAsync();
  } finally {
    await server.stop();
  }
}

// --- phase 2: many devices under a global cap ------------------------------------------------

async function fleet(o: Options, root: string, deviceRoot: string): Promise<void> {
  const cap = o.capMib * MiB;
  const burst = 128 * 1024;
  const server = await startServer({ dataDir: join(root, 'fleet'), egressBytesPerSec: cap, firmwareBurstBytes: burst });
  try {
    const imagePath = join(root, 'fleet.bin');
    const size = o.fleetImageKib * 1024;
    await writeRandomFile(imagePath, size);
    const firmware = await uploadFile(server.api, imagePath, `deviceClass=fleet&version=1&chunkSize=${o.blockKib * 1024}`);
    const keys = (await server.api('GET', '/api/v1/firmware/keys')).items as TrustedKey[];
    const manifest = await server.api('GET', `/api/v1/firmware/${firmware.id}/manifest`) as string;
    const ids = Array.from({ length: o.devices }, (_, i) => `fleet-${String(i).padStart(4, '0')}`);
    log(`  registering and connecting ${o.devices} devices…`);
    const clients = await devices(server.api, server.mqttPort, ids, 'fleet');
    await entitle(server.api, firmware.id, ids);
    const arrivals: Arrival[] = [];
    server.record();
    const started = performance.now();
    await Promise.all(clients.map(async (client, i) => {
      const dir = join(deviceRoot, ids[i]!);
      await mkdir(dir, { recursive: true });
      // Progress recorded every 64 blocks: this phase measures the broker's pacing, not device disks.
      await download({ link: recordArrivals(mqttJsLink(client), arrivals), deviceId: ids[i]!, keys, manifest, dir }, 'fleet', size, 64);
    }));
    const seconds = (performance.now() - started) / 1000;
    const grants = await server.grants();
    await Promise.all(clients.map((c) => c.endAsync()));
    report(o, arrivals.sort((a, b) => a.at - b.at), { cap, burst, size, seconds, started });
    reportGrants(grants, cap, burst);
  } finally {
    await server.stop();
  }
}

/**
 * Received bytes per window. A receiver's windows include delivery jitter (blocks granted apart
 * can arrive together when the receiving process is busy), so they may exceed the envelope by a
 * few blocks even when the broker's own count (below) does not.
 */
function report(o: Options, sorted: Arrival[], r: { cap: number; burst: number; size: number; seconds: number; started: number }): void {
  const total = sorted.reduce((n, a) => n + a.bytes, 0);
  const spanS = (sorted.at(-1)!.at - r.started) / 1000;
  log(`| received by ${o.devices} devices × ${r.size / 1024} KiB, cap ${o.capMib} MiB/s, burst ${r.burst / 1024} KiB | busiest window | envelope (cap × W + burst) | within |`);
  log('| --- | --- | --- | --- |');
  for (const windowMs of [100, 250, 1000]) {
    const most = busiestWindow(sorted, windowMs);
    const envelope = (r.cap * windowMs) / 1000 + r.burst;
    log(`| W = ${windowMs} ms | ${(most / MiB).toFixed(2)} MiB | ${(envelope / MiB).toFixed(2)} MiB | ${most <= envelope ? 'yes' : '**no**'} |`);
  }
  log('');
  log(`all ${o.devices} downloads verified in ${r.seconds.toFixed(1)} s; ${(total / MiB).toFixed(0)} MiB of blocks in ${spanS.toFixed(1)} s from the start to the last block = ` +
    `${(total / MiB / spanS).toFixed(2)} MiB/s, **utilization ${((100 * total) / (r.cap * spanS)).toFixed(0)}%** of the cap`);
}

/**
 * The broker's own accounting, exactly: over every window [tᵢ, tⱼ] between two grants, the bytes
 * granted minus cap × its length must stay under the burst. O(n) with a running maximum of
 * cap·tᵢ − (bytes before i).
 */
function reportGrants(grants: Grant[], cap: number, burst: number): void {
  if (grants.length === 0) throw new Error('no grants were recorded');
  let before = 0;
  let bestStart = -Infinity;
  let worst = -Infinity;
  for (const [at, bytes] of grants) {
    bestStart = Math.max(bestStart, (cap * at) / 1000 - before);
    before += bytes;
    worst = Math.max(worst, before - (cap * at) / 1000 + bestStart);
  }
  const first = grants[0]![0];
  const last = grants.at(-1)![0];
  // A grant is timestamped just after the limiter read the clock for it (a microtask later), so
  // allow what the cap grants in 100 µs, and a byte for floating-point rounding.
  const slack = cap * 0.0001 + 1;
  log(`broker's own count (${grants.length} grants, every window between two of them): at most ${worst.toFixed(0)} bytes above cap × W, ` +
    `against a burst of ${burst} bytes (+ ${slack.toFixed(0)} bytes of timestamp slack): ${worst <= burst + slack ? 'within the envelope' : '**over the envelope**'}; ` +
    `${(before / MiB).toFixed(0)} MiB granted in ${((last - first) / 1000).toFixed(1)} s = ${((100 * (before - burst)) / ((cap * (last - first)) / 1000)).toFixed(0)}% of the cap (after the initial burst)`);
}

// --- main ------------------------------------------------------------------------------------

interface Options {
  imageMib: number;
  blockKib: number;
  rounds: number;
  devices: number;
  fleetImageKib: number;
  capMib: number;
  deviceDir: string;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      'image-mib': { type: 'string', default: '64' },
      'block-kib': { type: 'string', default: '16' },
      rounds: { type: 'string', default: '3' },
      devices: { type: 'string', default: '200' },
      'fleet-image-kib': { type: 'string', default: '512' },
      'cap-mib': { type: 'string', default: '16' },
      'device-dir': { type: 'string', default: existsSync('/dev/shm') ? '/dev/shm' : tmpdir() },
    },
  });
  return {
    imageMib: Number(values['image-mib']),
    blockKib: Number(values['block-kib']),
    rounds: Number(values.rounds),
    devices: Number(values.devices),
    fleetImageKib: Number(values['fleet-image-kib']),
    capMib: Number(values['cap-mib']),
    deviceDir: values['device-dir'],
  };
}

async function main(): Promise<void> {
  const o = options();
  const root = mkdtempSync(join(tmpdir(), 'baton-fw-bench-'));
  const deviceRoot = mkdtempSync(join(o.deviceDir, 'baton-fw-devices-'));
  try {
    log(`broker data dir ${root}; device state and slots in ${deviceRoot}`);
    log(`\n## one device: ${o.imageMib} MiB over MQTT vs raw TCP\n`);
    await throughput(o, root, deviceRoot);
    log(`\n## ${o.devices} devices at once under a global cap of ${o.capMib} MiB/s\n`);
    await fleet(o, root, deviceRoot);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(deviceRoot, { recursive: true, force: true });
  }
}

const serveAt = process.argv.indexOf('--serve');
if (serveAt >= 0) {
  serve(JSON.parse(process.argv[serveAt + 1]!)).catch((err: unknown) => {
    process.stderr.write(`firmware bench broker: ${String(err)}\n`);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
