/**
 * The MQTT fuzz campaign: generated and mutated packets from unauthenticated clients and from
 * authenticated sessions (lane devices, an integration token, a claim token), over TCP and
 * WebSocket, against a child broker, while a well-behaved device publishes QoS 1 telemetry.
 *
 * Fatal (ends the run, fast-check reports seed and path): the broker exits, or /healthz is not 200
 * after a batch. Collected (the run goes on, the test fails at the end): an unauthenticated client
 * gets anything but a refusing CONNACK, a registered client is refused, a session with only
 * well-formed packets stops answering PINGREQ, the broker sends bytes that are not MQTT, the
 * well-behaved device loses its connection or an acknowledged message, another device's write
 * lands in its telemetry, the broker does not exit 0 on SIGTERM afterwards.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { createDeviceKeyAndCsr } from '../../device-sdk/csr.js';
import { ADMIN_TOKEN } from '../helpers/service.js';
import { RawConn } from './mqtt-conn.js';
import { LANES, batch as batchArb, describePacket, encodePacket, packetsOf, type Action, type AuthAction, type Batch, type EncodeContext, type UnauthAction } from './mqtt-packets.js';
import { log, replayHint, type FuzzSettings } from './settings.js';
import { type Target, withTarget } from './target.js';

export interface MqttFinding {
  kind: string;
  detail: string;
  /** fast-check path of the batch (replay with FUZZ_SEED and FUZZ_PATH). */
  path: string;
  packets?: string[];
}

export interface MqttStats {
  seed: number;
  batches: number;
  packets: number;
  mutatedPackets: number;
  unauthPackets: number;
  authPackets: number;
  connections: { tcp: number; ws: number };
  logins: number;
  connackCodes: Record<string, number>;
  /** Unauthenticated connections: answered with a CONNACK, closed by the broker, still open when dropped. */
  unauthOutcomes: Record<string, number>;
  closedByBroker: number;
  barriers: number;
  goodDevice: { sent: number; acked: number; stored: number; disconnects: number };
  crashes: number;
  healthFailures: number;
  errorLogs: number;
  shutdownExitCode: number | null | undefined;
  durationS: number;
}

export interface MqttResult {
  stats: MqttStats;
  findings: MqttFinding[];
  /** The fast-check failure (crash or health), with seed and path, if the run ended early. */
  fatal: string | undefined;
  reportFile: string;
}

const GOOD = 'good-0';
const laneDevice = (i: number) => `fz-${i}`;

interface Fixtures {
  secrets: Map<string, string>;
  integrationToken: string;
  claimToken: string;
  fw: string;
  csrs: string[];
}

async function setUp(target: Target): Promise<Fixtures> {
  const secrets = new Map<string, string>();
  for (const id of [GOOD, ...Array.from({ length: LANES }, (_, i) => laneDevice(i))]) {
    const res = await target.api('POST', '/api/v1/devices', { id, deviceClass: 'fz', ...(id === GOOD ? {} : { tags: ['fz'] }) });
    if (res.status !== 201) throw new Error(`register ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    secrets.set(id, res.body.secret);
  }
  const token = await target.api('POST', '/api/v1/tokens', { name: 'fuzz-integration', role: 'integration' });
  const template = await target.api('POST', '/api/v1/provisioning-templates', { name: 'fz-tpl', deviceClasses: ['fz'] });
  if (template.status !== 201) throw new Error(`template: ${template.status} ${JSON.stringify(template.body)}`);
  const claim = await target.api('POST', '/api/v1/provisioning-templates/fz-tpl/claim', { kind: 'token' });
  const image = await fetch(`http://127.0.0.1:${target.ports.http}/api/v1/firmware?deviceClass=fz&version=1.0.0&chunkSize=256`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(4096, 7),
  });
  const fw = ((await image.json()) as { id: string }).id;
  const job = await target.api('POST', '/api/v1/jobs', { id: 'fz-job', type: 'firmware', firmwareId: fw, targets: { tags: ['fz'] } });
  if (job.status !== 201) throw new Error(`job: ${job.status} ${JSON.stringify(job.body)}`);
  const csrs = await Promise.all(Array.from({ length: LANES }, (_, i) => createDeviceKeyAndCsr(laneDevice(i)).then((k) => k.csrPem)));
  return { secrets, integrationToken: token.body.token, claimToken: claim.body.token, fw, csrs };
}

/** The well-behaved device: QoS 1 telemetry, at most 4 in flight, one every 15 ms. */
function startGoodDevice(target: Target, secret: string) {
  const state = { sent: 0, acked: new Set<number>(), inFlight: 0, disconnects: 0, stopping: false, errors: [] as string[] };
  let client: MqttClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  return {
    state,
    async start() {
      client = await mqtt.connectAsync(`mqtt://127.0.0.1:${target.ports.mqtt}`, { clientId: GOOD, username: GOOD, password: secret, reconnectPeriod: 500, connectTimeout: 10_000 });
      client.on('close', () => {
        if (!state.stopping) state.disconnects++;
      });
      client.on('error', (e) => state.errors.push(e.message));
      timer = setInterval(() => {
        if (state.inFlight >= 4 || !client) return;
        const n = state.sent++;
        state.inFlight++;
        client.publishAsync(`devices/${GOOD}/telemetry/fuzz`, JSON.stringify({ seq: n }), { qos: 1 }).then(
          () => {
            state.acked.add(n);
            state.inFlight--;
          },
          (e: Error) => {
            state.errors.push(`publish ${n}: ${e.message}`);
            state.inFlight--;
          },
        );
      }, 15);
    },
    async stop() {
      clearInterval(timer);
      const deadline = Date.now() + 20_000;
      while (state.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      state.stopping = true;
      await client?.endAsync().catch(() => undefined);
    },
  };
}

/** Every telemetry row of the well-behaved device's `fuzz` stream. */
async function storedTelemetry(target: Target): Promise<unknown[]> {
  const rows: unknown[] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; body: any } = await target.api('GET', `/api/v1/devices/${GOOD}/telemetry?stream=fuzz&limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    if (res.status !== 200) throw new Error(`reading telemetry: ${res.status} ${JSON.stringify(res.body)}`);
    rows.push(...res.body.items.map((r: { data: unknown }) => r.data));
    cursor = res.body.nextCursor;
  } while (cursor);
  return rows;
}

const hex = (b: Buffer, max = 512) => b.subarray(0, max).toString('hex') + (b.length > max ? `…(+${b.length - max} bytes)` : '');

export const runMqttCampaign = (settings: FuzzSettings): Promise<MqttResult> => withTarget((target) => mqttCampaign(target, settings));

async function mqttCampaign(target: Target, settings: FuzzSettings): Promise<MqttResult> {
  const started = Date.now();
  const fixtures = await setUp(target);
  const good = startGoodDevice(target, fixtures.secrets.get(GOOD)!);
  await good.start();

  const stats: MqttStats = {
    seed: settings.seed, batches: 0, packets: 0, mutatedPackets: 0, unauthPackets: 0, authPackets: 0,
    connections: { tcp: 0, ws: 0 }, logins: 0, connackCodes: {}, unauthOutcomes: {}, closedByBroker: 0, barriers: 0,
    goodDevice: { sent: 0, acked: 0, stored: 0, disconnects: 0 }, crashes: 0, healthFailures: 0, errorLogs: 0,
    shutdownExitCode: undefined, durationS: 0,
  };
  const findings: MqttFinding[] = [];
  let runIndex = settings.path !== undefined ? Number(settings.path.split(':')[0]) : 0;
  let path = '0';
  /** What the current batch wrote, for a failure report. */
  let written: string[] = [];

  const ctxFor = (lane: number): EncodeContext => ({
    self: laneDevice(lane), good: GOOD, other: laneDevice((lane + 1) % LANES), fw: fixtures.fw, job: 'fz-job',
    serial: `ser-${lane}`, template: 'fz-tpl', csr: fixtures.csrs[lane]!,
  });

  const finding = (kind: string, detail: string, packets?: string[]) => {
    if (findings.filter((f) => f.kind === kind).length < 20) findings.push({ kind, detail, path, ...(packets ? { packets } : {}) });
  };

  const open = async (a: Action) => {
    stats.connections[a.transport]++;
    return RawConn.open(a.transport, target.ports);
  };

  const noted = new WeakMap<RawConn, number>();
  const noteReplies = (conn: RawConn) => {
    for (const p of conn.received.slice(noted.get(conn) ?? 0)) {
      if (p.cmd === 'connack') stats.connackCodes[String(p.returnCode)] = (stats.connackCodes[String(p.returnCode)] ?? 0) + 1;
    }
    noted.set(conn, conn.received.length);
    if (conn.malformed) finding('malformed-reply', `the broker sent bytes that are not MQTT 3.1.1: ${conn.malformed}`);
  };

  async function runUnauth(a: UnauthAction, lane: number): Promise<void> {
    const ctx = ctxFor(lane);
    const encoded = a.packets.map((p) => encodePacket(p, ctx));
    const labels = a.packets.map((p, i) => `lane ${lane} unauth/${a.transport}: ${describePacket(p)} = ${hex(encoded[i]!)}`);
    written.push(...labels);
    stats.packets += a.packets.length;
    stats.unauthPackets += a.packets.length;
    stats.mutatedPackets += a.packets.filter((p) => p.mutations.length).length;
    let conn: RawConn;
    try {
      conn = await open(a);
    } catch (e) {
      finding('connect-failed', `${a.transport}: ${(e as Error).message}`);
      return;
    }
    await conn.write(Buffer.concat(encoded), a.chunking);
    if (a.finish === 'end') {
      // give the broker time to answer (or close), then half-close and wait for it to close
      await conn.waitFor((p) => p.cmd === 'connack', 300);
      conn.end();
      if (!(await conn.closedWithin(5000))) conn.destroy();
    } else if (a.finish === 'linger') {
      await conn.waitFor((p) => p.cmd === 'connack', 1000);
      if (!conn.closed) conn.destroy();
    } else {
      conn.destroy();
    }
    if (conn.closed) stats.closedByBroker++;
    const outcome = conn.received.some((p) => p.cmd === 'connack') ? 'connack' : conn.closed ? 'closed' : a.finish === 'destroy' ? 'dropped' : 'left-open';
    stats.unauthOutcomes[outcome] = (stats.unauthOutcomes[outcome] ?? 0) + 1;
    noteReplies(conn);
    for (const p of conn.received) {
      if (p.cmd === 'connack' && p.returnCode !== 0) continue;
      finding('unauthenticated-reply', `an unauthenticated client got ${p.cmd}${p.cmd === 'connack' ? ` return code ${p.returnCode}` : ''}`, labels);
    }
  }

  async function login(a: AuthAction, lane: number): Promise<RawConn | undefined> {
    const id = laneDevice(lane);
    const creds =
      a.principal === 'device' ? { clientId: id, username: id, password: fixtures.secrets.get(id)! }
      : a.principal === 'integration' ? { clientId: `int-${lane}`, username: 'api', password: fixtures.integrationToken }
      : { clientId: `provision-ser-${lane}`, username: 'claim', password: fixtures.claimToken };
    let conn: RawConn;
    try {
      conn = await open(a);
    } catch (e) {
      finding('connect-failed', `${a.transport}: ${(e as Error).message}`);
      return undefined;
    }
    stats.logins++;
    stats.packets++;
    stats.authPackets++;
    conn.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: a.clean, keepalive: 0, ...creds, password: Buffer.from(creds.password) }));
    const connack = await conn.waitFor((p) => p.cmd === 'connack', 10_000);
    noteReplies(conn);
    if (connack?.cmd !== 'connack' || connack.returnCode !== 0) {
      finding('login-refused', `${a.principal} ${creds.clientId} over ${a.transport}: ${connack ? `CONNACK ${connack.cmd === 'connack' ? connack.returnCode : '?'}` : conn.closed ? 'closed without CONNACK' : 'no CONNACK in 10 s'}`);
      conn.destroy();
      return undefined;
    }
    return conn;
  }

  async function runAuth(a: AuthAction, lane: number): Promise<void> {
    const ctx = ctxFor(lane);
    let conn: RawConn | undefined;
    for (const seq of a.sequences) {
      const encoded = seq.packets.map((p) => encodePacket(p, ctx));
      const labels = seq.packets.map((p, i) => `lane ${lane} ${a.principal}/${a.transport}: ${describePacket(p)} = ${hex(encoded[i]!)}`);
      written.push(...labels);
      if (!conn || conn.closed) conn = await login(a, lane);
      if (!conn) return;
      stats.packets += seq.packets.length;
      stats.authPackets += seq.packets.length;
      stats.mutatedPackets += seq.packets.filter((p) => p.mutations.length).length;
      const mark = conn.received.length;
      await conn.write(Buffer.concat(encoded), seq.chunking);
      // Mutated or raw bytes may leave the broker waiting for the rest of a packet: no reply is due.
      const hostile = seq.packets.some((p) => p.mutations.length > 0 || p.spec.t === 'raw');
      if (hostile) {
        conn.end();
        if (!(await conn.closedWithin(5000))) conn.destroy();
        else stats.closedByBroker++;
        noteReplies(conn);
        conn = undefined;
        continue;
      }
      conn.write(Buffer.from([0xc0, 0x00]));
      stats.barriers++;
      const pong = await conn.waitFor((p) => p.cmd === 'pingresp', 10_000, mark);
      if (conn.closed) stats.closedByBroker++;
      noteReplies(conn);
      if (!pong && !conn.closed) {
        finding('session-stalled', `a ${a.principal} session sent only well-formed packets and got no PINGRESP in 10 s`, labels);
        conn.destroy();
        conn = undefined;
      }
    }
    conn?.end();
  }

  async function runBatch(b: Batch): Promise<void> {
    await Promise.all(
      b.lanes.map(async (actions, lane) => {
        for (const a of actions) {
          if (a.kind === 'unauth') await runUnauth(a, lane);
          else await runAuth(a, lane);
        }
      }),
    );
  }

  const target_ = settings.mqttPackets;
  const numRuns = settings.path !== undefined ? 1 : Math.ceil(target_ / 15) + 10;
  log('mqtt', `seed=${settings.seed} target=${target_} packets; replay: ${replayHint('mqtt', settings)}`);
  const labelled = batchArb.map((b) => Object.assign(b, { [fc.toStringMethod]: () => `Batch(${b.lanes.map((l) => l.map((a) => `${a.kind}:${packetsOf(a)}`).join('+')).join(' | ')})` }));
  let fatal: string | undefined;
  try {
    await fc.assert(
      fc.asyncProperty(labelled, async (b) => {
        path = String(runIndex++);
        if (settings.path === undefined && stats.packets >= target_) return;
        stats.batches++;
        written = [];
        await runBatch(b);
        const exit = target.exit();
        if (exit) {
          stats.crashes++;
          throw new Error(`the broker exited (${exit}) during batch ${path}; its last output:\n${target.tail()}\n\nthe batch wrote:\n${written.join('\n')}`);
        }
        const health = await target.healthz();
        if (health !== 200) {
          stats.healthFailures++;
          throw new Error(`GET /healthz answered ${health || 'nothing in 10 s'} after batch ${path}; the batch wrote:\n${written.join('\n')}`);
        }
        if (stats.batches % 20 === 0) log('mqtt', `${stats.batches} batches, ${stats.packets} packets, good device ${good.state.acked.size} acked`);
      }),
      { seed: settings.seed, numRuns, endOnFailure: true, ...(settings.path !== undefined ? { path: settings.path } : {}) },
    );
  } catch (e) {
    const err = e as Error;
    // a property failure carries seed, path and counterexample; anything else is a fuzzer bug
    const cause = err.cause instanceof Error ? `\nGot error: ${err.cause.message}` : '';
    fatal = err.message.includes('Property failed') ? `${err.message}${cause}` : `${err.stack ?? err.message}`;
  }

  await good.stop();
  stats.goodDevice = { sent: good.state.sent, acked: good.state.acked.size, stored: 0, disconnects: good.state.disconnects };
  if (good.state.disconnects > 0) finding('good-device-disconnected', `the well-behaved device lost its connection ${good.state.disconnects} times (errors: ${good.state.errors.slice(0, 5).join('; ')})`);
  if (!target.exit()) {
    const rows = await storedTelemetry(target);
    stats.goodDevice.stored = rows.length;
    const stored = new Set(rows.map((r) => (r as { seq?: unknown }).seq));
    const lost = [...good.state.acked].filter((n) => !stored.has(n));
    if (lost.length) finding('acknowledged-write-lost', `${lost.length} of ${good.state.acked.size} acknowledged QoS 1 messages are not stored, e.g. seq ${lost.slice(0, 10).join(', ')}`);
    const foreign = rows.filter((r) => typeof (r as { seq?: unknown }).seq !== 'number' || (r as { seq: number }).seq >= good.state.sent);
    if (foreign.length) finding('foreign-write', `${foreign.length} rows in ${GOOD}'s telemetry were not sent by it, e.g. ${JSON.stringify(foreign.slice(0, 3)).slice(0, 300)}`);
    stats.shutdownExitCode = await target.stop();
    if (stats.shutdownExitCode !== 0) finding('unclean-shutdown', `after the campaign SIGTERM gave exit code ${stats.shutdownExitCode}:\n${target.tail(2000)}`);
  }
  const errors = target.errorLogs();
  stats.errorLogs = errors.length;
  for (const e of errors.slice(0, 10)) finding('error-log', `${e.msg}: ${e.err?.type ?? ''} ${e.err?.message ?? ''}\n${(e.err?.stack ?? '').split('\n').slice(0, 6).join('\n')}`);
  stats.durationS = Math.round((Date.now() - started) / 100) / 10;

  mkdirSync(settings.reportDir, { recursive: true });
  const reportFile = join(settings.reportDir, `baton-fuzz-mqtt-${settings.seed}.json`);
  writeFileSync(reportFile, JSON.stringify({ stats, fatal, findings, replay: replayHint('mqtt', settings) }, null, 2));
  log('mqtt', `done: ${JSON.stringify(stats)}`);
  log('mqtt', `${findings.length} findings, fatal: ${fatal ? 'yes' : 'no'}; report: ${reportFile}`);
  return { stats, findings, fatal, reportFile };
}
