/**
 * `npx tsx bench/firmware.ts`: firmware delivery figures (not part of `npm test`).
 *
 * 1. Throughput: one device downloads a 64 MiB image in 16 KiB blocks over MQTT, as a plain
 *    mqtt.js client asking for every block with no checks and no disk (`serving`: the broker's
 *    block serving) and with the device SDK (`sdk`: every block checked against the chunk table
 *    and written, progress recorded after every block, the whole image's SHA-256 checked at the
 *    end; synced at most once a second, and as often as it can), against a raw TCP transfer of
 *    the same file (received, SHA-256 hashed and written to a file; and, like for like with the
 *    plain client, only received), back to back in each of `--rounds` rounds; ratios within a round.
 * 2. Pacing: `--devices` devices download under a global cap (BATON_EGRESS_BYTES_PER_SEC), each
 *    as soon as the rollout scheduler admits it (it admits as many as the cap can serve): the
 *    busiest window of received bytes against the cap's envelope (cap × W + burst, the burst being
 *    one block or 10 ms of the cap, whichever is more), and the cap's utilization
 *    (bytes / (cap × duration)).
 *
 * Broker CPU is the broker child's own `process.cpuUsage()` over each transfer, per delivered GiB.
 *
 * The broker runs in a child process (this file with `--serve`), so it has a core of its own.
 * The devices' state files and image slots go to `--device-dir` (default /dev/shm if present: the
 * SDK fsyncs its image and progress, which on a real disk measures the disk, not the protocol;
 * pass `--device-dir $TMPDIR` to include it).
 *
 *   npx tsx bench/firmware.ts [--image-mib 64] [--block-kib 16] [--rounds 3] [--devices 200]
 *                             [--fleet-image-kib 512] [--cap-mib 16] [--parts serving,sdk,fleet]
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
import { DEFAULT_MAX_DEPTH_BYTES, envelopeBytes } from '../firmware-updates/pacing.js';
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

/**
 * The broker's clock in the child, and so its limiter's: sub-millisecond, unlike Date.now. Its
 * last reading is kept: when delivery counts a grant, that is the limiter's reading at the take
 * (or a window check just after it), where reading the clock again could be a GC pause later.
 */
let lastReading = 0;
const brokerClock = () => (lastReading = performance.timeOrigin + performance.now());

/** An increment of the broker's count of firmware bytes handed to sockets: when, and how many. */
type Grant = [atMs: number, bytes: number];

/**
 * Child: records every increment of `baton_firmware_stream_bytes_total` at the clock's last
 * reading (delivery counts what the limiter grants right after the take, before the write), between
 * `{ cmd: 'record' }` and `{ cmd: 'grants' }`, which sends them to the parent. Bench-only: it
 * wraps prom-client's `Counter` increment in this process, before the service creates its metrics.
 */
function recordGrantsOnRequest(): void {
  let grants: Grant[] | undefined;
  const proto = Counter.prototype as unknown as { incWithoutExemplar: (...args: unknown[]) => void };
  const inc = proto.incWithoutExemplar;
  proto.incWithoutExemplar = function (this: { name: string }, ...args: unknown[]) {
    if (grants && this.name === 'baton_firmware_stream_bytes_total') grants.push([lastReading, args[0] as number]);
    return inc.apply(this, args);
  };
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'record') grants = [];
    else if (m.cmd === 'grants') {
      process.send!({ grants });
      grants = undefined;
    } else if (m.cmd === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send!({ cpuSeconds: (user + system) / 1e6 });
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
  /** CPU seconds (user + system) the broker process has used so far (its own `process.cpuUsage`). */
  cpuSeconds(): Promise<number>;
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
  const cpuSeconds = () => new Promise<number>((resolve) => {
    child.once('message', (m) => resolve((m as { cpuSeconds: number }).cpuSeconds));
    child.send({ cmd: 'cpu' });
  });
  return { ...ready, child, api: apiOf(`http://127.0.0.1:${ready.httpPort}`, ready.adminToken), stop, record, grants, cpuSeconds };
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

/** The devices whose execution of a job is admitted so far. */
async function admitted(api: Api, jobId: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: { deviceId: string; admittedAt: string | null }[]; nextCursor: string | null } =
      await api('GET', `/api/v1/jobs/${jobId}/executions?limit=1000${cursor === null ? '' : `&cursor=${cursor}`}`);
    for (const e of page.items) if (e.admittedAt) ids.push(e.deviceId);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return ids;
}

/**
 * A firmware job for the devices (when the jobs feature narrows delivery, a device may fetch only
 * while its execution is admitted), calling `start` for each device as it is admitted, and
 * waiting until every start is done. The rollout scheduler drives every firmware job and admits
 * only the downloads the egress cap can serve, counting each not yet finished at its expected
 * rate (125 kB/s before it is measured: 134 devices under 16 MiB/s). So devices cannot all be
 * admitted before any of them starts: each starts when it is admitted, as on its job notification.
 */
async function entitle(api: Api, firmwareId: string, devices: string[], start: (deviceId: string) => Promise<void> = async () => undefined): Promise<void> {
  const job = await api('POST', '/api/v1/jobs', { type: 'firmware', firmwareId, targets: { devices } });
  const running = new Map<string, Promise<void>>();
  let failure: unknown;
  let progressAt = performance.now();
  while (running.size < devices.length) {
    for (const id of await admitted(api, job.id)) {
      if (running.has(id)) continue;
      running.set(id, start(id).catch((err: unknown) => void (failure ??= err)));
      progressAt = performance.now();
    }
    if (failure !== undefined) throw failure;
    if (performance.now() - progressAt > 30_000) throw new Error(`the job admitted ${running.size} of ${devices.length} devices, and no more in 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await Promise.all(running.values());
  if (failure !== undefined) throw failure;
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

/** Raw TCP with nothing done to the bytes: the like-for-like reference for the plain client below. */
function rawReceive(port: number, path: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`${path}\n`));
    socket.on('data', () => undefined);
    socket.on('end', () => resolve((performance.now() - started) / 1000));
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

/** An SDK download; `syncIntervalMs` as the SDK takes it (undefined: its default, 1 s). */
async function download(d: Download, deviceClass: string, size: number, syncIntervalMs?: number): Promise<number> {
  const started = performance.now();
  await downloadFirmware(d.manifest, {
    link: d.link, deviceId: d.deviceId, trustedKeys: d.keys, deviceClass, freeBytes: 2 * size,
    statePath: join(d.dir, 'state.json'), dir: d.dir, ...(syncIntervalMs === undefined ? {} : { syncIntervalMs }),
  });
  return (performance.now() - started) / 1000;
}

/** The transfers of a round: three over MQTT, and the raw TCP references. */
type Transfer = 'transport' | 'sdk' | 'sdkEagerSync' | 'raw' | 'rawReceive';
type MqttTransfer = Exclude<Transfer, 'raw' | 'rawReceive'>;

interface Round {
  seconds: Record<Transfer, number>;
  /** Broker CPU seconds (user + system) during each MQTT transfer. */
  brokerCpu: Record<MqttTransfer, number>;
}

interface SingleSetup {
  server: Server;
  client: MqttClient;
  firmware: { id: string; sha256: string };
  download: Omit<Download, 'dir'>;
  stored: string;
}

/** Seconds a transfer took, and the broker CPU seconds it cost. */
async function metered(server: Server, transfer: () => Promise<number>): Promise<{ seconds: number; cpu: number }> {
  const before = await server.cpuSeconds();
  const seconds = await transfer();
  return { seconds, cpu: (await server.cpuSeconds()) - before };
}

/** One round, every transfer back to back so they share the machine's conditions. */
async function measureRound(o: Options, s: SingleSetup, deviceRoot: string, round: number): Promise<Round> {
  const size = o.imageMib * MiB;
  const transport = await metered(s.server, () => mqttOnly(s.client, 'bench-single', s.firmware.id, size / (o.blockKib * 1024)));
  const r: Round = { seconds: { transport: transport.seconds, sdk: 0, sdkEagerSync: 0, raw: 0, rawReceive: 0 }, brokerCpu: { transport: transport.cpu, sdk: 0, sdkEagerSync: 0 } };
  for (const [key, syncIntervalMs] of o.parts.has('sdk') ? [['sdk', undefined], ['sdkEagerSync', 0]] as const : []) {
    const dir = join(deviceRoot, `single-${round}-${key}`);
    await mkdir(dir, { recursive: true });
    const sdk = await metered(s.server, () => download({ ...s.download, dir }, 'bench', size, syncIntervalMs));
    r.seconds[key] = sdk.seconds;
    r.brokerCpu[key] = sdk.cpu;
    rmSync(dir, { recursive: true, force: true });
  }
  const out = join(deviceRoot, `raw-${round}.bin`);
  const raw = await rawTcp(s.server.rawPort, s.stored, out);
  rmSync(out, { force: true });
  if (raw.sha256 !== s.firmware.sha256) throw new Error('raw TCP transfer corrupted the image');
  r.seconds.raw = raw.seconds;
  r.seconds.rawReceive = await rawReceive(s.server.rawPort, s.stored);
  return r;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Ratios are taken within a round (same machine conditions), then the median over rounds. */
function reportThroughput(o: Options, rounds: Round[]): void {
  const size = o.imageMib * MiB;
  const mib = (seconds: number) => `${(size / MiB / seconds).toFixed(0)} MiB/s`;
  const perGiB = (cpu: number) => `${((cpu * 1024 ** 3) / size).toFixed(2)} s`;
  const row = (label: string, key: MqttTransfer) => {
    const ratios = rounds.map((r) => r.seconds.raw / r.seconds[key]);
    log(`| ${label} | ${mib(median(rounds.map((r) => r.seconds[key])))} | ${ratios.map((x) => x.toFixed(2)).join(', ')} | **${median(ratios).toFixed(2)}×** | ${perGiB(median(rounds.map((r) => r.brokerCpu[key])))} |`);
  };
  log(`| one device, ${o.imageMib} MiB, ${o.blockKib} KiB blocks, ${rounds.length} rounds | median throughput | ratio to raw TCP, per round | median ratio | broker CPU per delivered GiB (median) |`);
  log('| --- | --- | --- | --- | --- |');
  log(`| raw TCP: receive, SHA-256, write to a file (the reference) | ${mib(median(rounds.map((r) => r.seconds.raw)))} | | 1 | |`);
  const receiveRatios = rounds.map((r) => r.seconds.raw / r.seconds.rawReceive);
  log(`| raw TCP: receive only | ${mib(median(rounds.map((r) => r.seconds.rawReceive)))} | ${receiveRatios.map((x) => x.toFixed(2)).join(', ')} | ${median(receiveRatios).toFixed(2)}× | |`);
  row('block serving: a plain mqtt.js client asking for every block, no checks, no disk', 'transport');
  if (o.parts.has('sdk')) {
    row('MQTT + SDK: every block verified and written, progress recorded after every block, synced at most once a second (the default)', 'sdk');
    row('MQTT + SDK: the same, synced as often as it can (`syncIntervalMs: 0`)', 'sdkEagerSync');
  }
  const likeForLike = rounds.map((r) => r.seconds.rawReceive / r.seconds.transport);
  log(`\nblock serving against raw TCP that also does nothing with the bytes: ${likeForLike.map((x) => x.toFixed(2)).join(', ')}, median **${median(likeForLike).toFixed(2)}×**`);
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
      server, client: client!, firmware,
      stored: join(dataDir, 'firmware', `${firmware.sha256}.bin`),
      download: { link: mqttJsLink(client!), deviceId: 'bench-single', keys, manifest },
    };
    await mqttOnly(client!, 'bench-single', firmware.id, (o.imageMib * MiB) / (o.blockKib * 1024)); // warm-up: JIT, page cache
    const rounds: Round[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      const r = await measureRound(o, setup, deviceRoot, round);
      const mib = (seconds: number) => `${(o.imageMib / seconds).toFixed(0)} MiB/s`;
      const { transport, sdk: withSdk, sdkEagerSync, raw } = r.seconds;
      const sdk = o.parts.has('sdk') ? `; with the SDK ${mib(withSdk)} (synced at most once a second), ${mib(sdkEagerSync)} (synced eagerly)` : '';
      log(`  round ${round}: block serving ${mib(transport)} (${(raw / transport).toFixed(2)}× raw TCP, broker CPU ${r.brokerCpu.transport.toFixed(2)} s)${sdk}; raw TCP ${mib(raw)}`);
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
  // What the cap may pass above cap × W: one block, or the bucket's depth (10 ms of the cap) if larger.
  const burst = envelopeBytes(cap, 0, o.blockKib * 1024, DEFAULT_MAX_DEPTH_BYTES);
  const server = await startServer({ dataDir: join(root, 'fleet'), egressBytesPerSec: cap });
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
    const clientOf = new Map(ids.map((id, i) => [id, clients[i]!]));
    const arrivals: Arrival[] = [];
    server.record();
    let started: number | undefined;
    await entitle(server.api, firmware.id, ids, async (id) => {
      started ??= performance.now();
      const dir = join(deviceRoot, id);
      await mkdir(dir, { recursive: true });
      await download({ link: recordArrivals(mqttJsLink(clientOf.get(id)!), arrivals), deviceId: id, keys, manifest, dir }, 'fleet', size);
    });
    const seconds = (performance.now() - started!) / 1000;
    const grants = await server.grants();
    await Promise.all(clients.map((c) => c.endAsync()));
    report(o, arrivals.sort((a, b) => a.at - b.at), { cap, burst, size, seconds, started: started! });
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
  log(`| received by ${o.devices} devices × ${r.size / 1024} KiB, cap ${o.capMib} MiB/s, burst ${(r.burst / 1024).toFixed(0)} KiB | busiest window | envelope (cap × W + burst) | within |`);
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
  // A grant is timestamped with the limiter's clock reading at the take, or a check just after it:
  // allow what the cap grants in 100 µs, and a byte for floating-point rounding.
  const slack = cap * 0.0001 + 1;
  log(`broker's own count (${grants.length} grants, every window between two of them): at most ${worst.toFixed(0)} bytes above cap × W, ` +
    `against a burst of ${burst} bytes (+ ${slack.toFixed(0)} bytes of timestamp slack): ${worst <= burst + slack ? 'within the envelope' : '**over the envelope**'}; ` +
    `${(before / MiB).toFixed(0)} MiB granted in ${((last - first) / 1000).toFixed(1)} s = ${((100 * before) / ((cap * (last - first)) / 1000)).toFixed(0)}% of the cap`);
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
  parts: Set<string>;
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
      parts: { type: 'string', default: 'serving,sdk,fleet' },
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
    parts: new Set(values.parts.split(',')),
  };
}

async function main(): Promise<void> {
  const o = options();
  const root = mkdtempSync(join(tmpdir(), 'baton-fw-bench-'));
  const deviceRoot = mkdtempSync(join(o.deviceDir, 'baton-fw-devices-'));
  try {
    log(`broker data dir ${root}; device state and slots in ${deviceRoot}`);
    if (o.parts.has('serving') || o.parts.has('sdk')) {
      log(`\n## one device: ${o.imageMib} MiB over MQTT vs raw TCP\n`);
      await throughput(o, root, deviceRoot);
    }
    if (o.parts.has('fleet')) {
      log(`\n## ${o.devices} devices at once under a global cap of ${o.capMib} MiB/s\n`);
      await fleet(o, root, deviceRoot);
    }
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
