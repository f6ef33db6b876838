/**
 * Persistent MQTT sessions (clean session 0) on Baton's session store: they survive a graceful
 * restart and a kill -9, the reconnect race never costs a connection or a message, and packet ids
 * the broker does not know are ignored as Mosquitto ignores them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { topics } from '../device-sdk/protocol/topics.js';
import { startChildBroker, type ChildBroker } from './helpers/child-broker.js';
import { deviceOfClass, entitle, randomImage, uploadImage } from './helpers/firmware.js';
import { connectPacket } from './helpers/raw-mqtt.js';
import { eventually, nextMessage, startBaton, subscribeGranted, whenClosed } from './helpers/service.js';

/** Connects and resolves with the client and the CONNACK's session-present flag. */
async function connectSession(url: string, clientId: string, extra: mqtt.IClientOptions = {}): Promise<{ client: MqttClient; sessionPresent: boolean }> {
  const client = mqtt.connect(url, { clientId, clean: false, reconnectPeriod: 0, connectTimeout: 5000, ...extra });
  const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  return { client, sessionPresent: connack.sessionPresent };
}

/** Collects the payloads (as text) of every message the client receives. */
function collect(client: MqttClient): string[] {
  const got: string[] = [];
  client.on('message', (_topic, payload) => got.push(payload.toString()));
  return got;
}

const children: ChildBroker[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.child.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('persistent sessions survive the broker', () => {
  it('restores subscriptions and delivers what was queued after a graceful restart (session present = 1)', async () => {
    const baton = await startBaton({ allowAnonymous: true });
    const first = await connectSession(baton.mqttUrl, 'watcher');
    expect(first.sessionPresent).toBe(false);
    await first.client.subscribeAsync('lab/#', { qos: 1 });
    await first.client.endAsync();
    const publisher = await baton.connect({ clientId: 'pub' });
    for (const n of [1, 2, 3]) await publisher.publishAsync('lab/temp', `queued-${n}`, { qos: 1 });

    const restarted = await baton.restart();
    const again = await connectSession(restarted.mqttUrl, 'watcher');
    const got = collect(again.client);
    expect(again.sessionPresent).toBe(true);
    await eventually(() => (got.length >= 3 ? true : undefined));
    // The restored subscription works without a new SUBSCRIBE.
    const pub2 = await restarted.connect({ clientId: 'pub' });
    await pub2.publishAsync('lab/temp', 'live', { qos: 1 });
    await eventually(() => (got.includes('live') ? true : undefined));
    expect(got).toEqual(['queued-1', 'queued-2', 'queued-3', 'live']);
    await again.client.endAsync();
  });

  it('delivers the shadow delta queued for an offline device after a restart', async () => {
    const baton = await startBaton();
    const device = await baton.createDevice('pump-7');
    const session = await connectSession(baton.mqttUrl, 'pump-7', { username: 'pump-7', password: device.secret });
    await session.client.subscribeAsync(topics.shadow('pump-7', undefined, 'update/delta'), { qos: 1 });
    await session.client.endAsync();
    const patched = await baton.api('PATCH', '/api/v1/devices/pump-7/shadow', { state: { desired: { speed: 3 } } });
    expect(patched.status).toBe(200);
    await eventually(async () => ((await baton.api('GET', '/api/v1/devices/pump-7')).body.session.queued === 1 ? true : undefined));

    const restarted = await baton.restart();
    const again = await connectSession(restarted.mqttUrl, 'pump-7', { username: 'pump-7', password: device.secret });
    expect(again.sessionPresent).toBe(true);
    const delta = await nextMessage(again.client, (t) => t === topics.shadow('pump-7', undefined, 'update/delta'));
    expect(delta.json.state).toEqual({ speed: 3 });
    await again.client.endAsync();
  });

  it('delivers every message it acknowledged for an offline session after a kill -9 mid-stream', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'baton-sessions-kill-'));
    dirs.push(dataDir);
    const env = { BATON_ALLOW_ANONYMOUS: 'true' };
    const broker = await startChildBroker(dataDir, env);
    children.push(broker);
    const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
    const watcher = await connectSession(url, 'watcher');
    await watcher.client.subscribeAsync('lab/#', { qos: 1 });
    await watcher.client.endAsync();

    const publisher = await mqtt.connectAsync(url, { clientId: 'pub', reconnectPeriod: 0 });
    publisher.on('error', () => undefined);
    const acknowledged: string[] = [];
    let n = 0;
    const stream = (async () => {
      for (;;) {
        const body = `m-${n++}`;
        await publisher.publishAsync('lab/stream', body, { qos: 1 });
        acknowledged.push(body);
      }
    })().catch(() => undefined);
    await eventually(() => (acknowledged.length >= 200 ? true : undefined), 20_000);
    broker.child.kill('SIGKILL');
    await broker.exited;
    // The publish in flight when the broker died never completes: what counts is what was acknowledged.
    publisher.end(true);
    void stream;

    const again = await startChildBroker(dataDir, env);
    children.push(again);
    const back = await connectSession(`mqtt://127.0.0.1:${again.mqttPort}`, 'watcher');
    const got = collect(back.client);
    expect(back.sessionPresent).toBe(true);
    await eventually(() => (acknowledged.every((m) => got.includes(m)) ? true : undefined), 20_000);
    // In order, each once (at-least-once allows more; the store sends each queued message once).
    expect(got.slice(0, acknowledged.length)).toEqual(acknowledged);
    await back.client.endAsync();
  });
});

describe('sessions and device registration', () => {
  it('does not hand a device the session another principal left under its id before it was registered', async () => {
    const baton = await startBaton({ allowAnonymous: true });
    const squatter = await connectSession(baton.mqttUrl, 'late-dev');
    await squatter.client.subscribeAsync('lab/#', { qos: 1 });
    await squatter.client.endAsync();
    const device = await baton.createDevice('late-dev');
    const { body } = await baton.api('GET', '/api/v1/devices/late-dev');
    expect(body.session.persistent).toBe(false);
    const session = await connectSession(baton.mqttUrl, 'late-dev', { username: 'late-dev', password: device.secret });
    expect(session.sessionPresent).toBe(false);
    await session.client.endAsync();
  });
});

describe('the reconnect race', () => {
  it('never disconnects a session that reconnects 200 times while QoS 1 messages are published to it, and loses none', async () => {
    const baton = await startBaton({ allowAnonymous: true });
    const first = await connectSession(baton.mqttUrl, 'racer');
    await first.client.subscribeAsync('race/#', { qos: 1 });
    await first.client.endAsync();

    const publisher = await baton.connect({ clientId: 'pub' });
    const published: string[] = [];
    let publishing = true;
    const pump = (async () => {
      for (let i = 0; publishing; i++) {
        await publisher.publishAsync('race/m', `r-${i}`, { qos: 1 });
        published.push(`r-${i}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    const received = new Set<string>();
    let brokerClosed = 0;
    for (let i = 0; i < 200; i++) {
      const { client } = await connectSession(baton.mqttUrl, 'racer');
      client.on('message', (_t, p) => received.add(p.toString()));
      let ending = false;
      client.on('close', () => {
        if (!ending) brokerClosed += 1;
      });
      await new Promise((r) => setTimeout(r, i % 3)); // sometimes end at once, sometimes after deliveries
      ending = true;
      await client.endAsync();
    }
    publishing = false;
    await pump;

    const last = await connectSession(baton.mqttUrl, 'racer');
    last.client.on('message', (_t, p) => received.add(p.toString()));
    await eventually(() => (published.every((m) => received.has(m)) ? true : undefined), 10_000);
    expect(brokerClosed).toBe(0);
    expect(published.length).toBeGreaterThan(0);
    await last.client.endAsync();
  });

  it("answers RateLimited to a persistent session whose wildcard covers its own request topics, and keeps the connection", async () => {
    const baton = await startBaton({ egressBytesPerSec: 256, firmwareBurstBytes: 256 });
    const image = randomImage(400 * 256);
    const { body: firmware } = await uploadImage(baton, image, { deviceClass: 'sensor', version: '1.0.0', chunkSize: 256 });
    const device = await deviceOfClass(baton, 'mcu-1', 'sensor', { clean: false });
    await entitle(baton, firmware.id, ['mcu-1']);
    expect(await subscribeGranted(device.client, ['devices/mcu-1/#'])).toEqual([1]);
    let closed = false;
    device.client.on('close', () => (closed = true));
    const get = topics.streamGet('mcu-1', firmware.id);
    for (const start of [0, 64, 128, 192]) {
      await device.client.publishAsync(get, JSON.stringify({ blocks: [[start, 64]] }), { qos: 1 });
    }
    const rejected = nextMessage(device.client, (t) => t === topics.streamRejected('mcu-1', firmware.id));
    await device.client.publishAsync(get, JSON.stringify({ clientToken: 'fifth', blocks: [[256, 64]] }), { qos: 1 });
    expect((await rejected).json).toMatchObject({ code: 'RateLimited', clientToken: 'fifth' });
    expect(closed).toBe(false);
    // Its own requests never entered its queue: only blocks (and the rejection) did.
    const { body } = await baton.api('GET', '/api/v1/devices/mcu-1');
    expect(body.session.persistent).toBe(true);
    expect(body.session.queued).toBeLessThanOrEqual(256);
  });
});

/** A raw MQTT connection, for packets mqtt.js would never send. */
async function rawSession(port: number, clientId: string): Promise<{ socket: Socket; received: () => Buffer }> {
  const socket = connectTcp(port, '127.0.0.1');
  let buffer = Buffer.alloc(0);
  socket.on('data', (d) => (buffer = Buffer.concat([buffer, d])));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(connectPacket({ clientId, clean: false }));
  await eventually(() => (buffer.length >= 4 ? true : undefined));
  expect(buffer[0]).toBe(0x20); // CONNACK
  expect(buffer[3]).toBe(0); // accepted
  buffer = buffer.subarray(4);
  return { socket, received: () => buffer };
}

describe('packet ids the broker does not know', () => {
  it.each([
    ['PUBACK', 0x40],
    ['PUBCOMP', 0x70],
  ])('ignores a %s for an unknown packet id and keeps the connection', async (_name, type) => {
    const baton = await startBaton({ allowAnonymous: true });
    const { socket, received } = await rawSession(baton.mqttPort, 'raw-1');
    socket.write(Buffer.from([type, 2, 0x03, 0xe7])); // packet id 999
    socket.write(Buffer.from([0xc0, 0])); // PINGREQ
    await eventually(() => (received().includes(Buffer.from([0xd0, 0])) ? true : undefined)); // PINGRESP
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });

  it('answers a PUBREC for an unknown packet id with PUBREL and keeps the connection', async () => {
    const baton = await startBaton({ allowAnonymous: true });
    const { socket, received } = await rawSession(baton.mqttPort, 'raw-2');
    socket.write(Buffer.from([0x50, 2, 0x03, 0xe7]));
    await eventually(() => (received().includes(Buffer.from([0x62, 2, 0x03, 0xe7])) ? true : undefined));
    socket.write(Buffer.from([0xc0, 0]));
    await eventually(() => (received().includes(Buffer.from([0xd0, 0])) ? true : undefined));
    socket.destroy();
  });

  it('redelivers an unacknowledged QoS 1 message on reconnect with the same packet id and DUP set', async () => {
    const baton = await startBaton({ allowAnonymous: true });
    const { socket, received } = await rawSession(baton.mqttPort, 'raw-3');
    // SUBSCRIBE id 1 to "t" at QoS 1
    socket.write(Buffer.from([0x82, 6, 0, 1, 0, 1, 0x74, 1]));
    await eventually(() => (received().includes(Buffer.from([0x90, 3, 0, 1, 1])) ? true : undefined));
    const publisher = await baton.connect({ clientId: 'pub' });
    await publisher.publishAsync('t', 'x', { qos: 1 });
    // PUBLISH QoS 1 (0x32), topic "t", a packet id, payload "x": never acknowledged.
    const first = await eventually(() => {
      const at = received().indexOf(0x32);
      return at >= 0 && received().length >= at + 8 ? received().subarray(at, at + 8) : undefined;
    });
    const closed = new Promise((r) => socket.once('close', r));
    socket.destroy();
    await closed;

    const again = await rawSession(baton.mqttPort, 'raw-3');
    const redelivered = await eventually(() => {
      const at = again.received().indexOf(0x3a); // PUBLISH QoS 1 with DUP
      return at >= 0 && again.received().length >= at + 8 ? again.received().subarray(at, at + 8) : undefined;
    });
    expect(redelivered.subarray(5, 7)).toEqual(first.subarray(5, 7)); // the same packet id
    expect(redelivered.subarray(7).toString()).toBe('x');
    again.socket.destroy();
  });

  it('keeps a persistent session across a takeover by the same device, and the old connection is closed', async () => {
    const baton = await startBaton();
    const device = await baton.createDevice('dev-t');
    const a = await connectSession(baton.mqttUrl, 'dev-t', { username: 'dev-t', password: device.secret });
    await a.client.subscribeAsync(topics.shadow('dev-t', undefined, 'update/delta'), { qos: 1 });
    const aClosed = whenClosed(a.client);
    const b = await connectSession(baton.mqttUrl, 'dev-t', { username: 'dev-t', password: device.secret });
    await aClosed;
    expect(b.sessionPresent).toBe(true);
    const delta = nextMessage(b.client, (t) => t === topics.shadow('dev-t', undefined, 'update/delta'));
    await baton.api('PATCH', '/api/v1/devices/dev-t/shadow', { state: { desired: { on: true } } });
    expect((await delta).json.state).toEqual({ on: true });
    a.client.end(true);
    await b.client.endAsync();
  });
});
