/**
 * Persistent MQTT sessions (clean session 0) on Baton's SQLite session store and the broker's
 * bounds, over real sockets: queue count and bytes bounds, expiry, the subscription limit, refused
 * filters never stored, a large SUBSCRIBE, retained messages, and no echo of a device's own
 * uplink topics. Completeness ("nothing else arrived") is checked with a marker message the
 * broker sends after the messages under test, never with a wall-clock wait.
 */
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, eventually, nextMessage, startBaton, subscribeGranted, type TestBaton } from './helpers/service.js';

interface Received {
  topic: string;
  payload: Buffer;
  json: any;
  retain: boolean;
}

interface Recorder {
  client: MqttClient;
  connack: IConnackPacket;
  /** Every message received, from the first byte after CONNACK on. */
  received: Received[];
}

const opened: MqttClient[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
});

const parse = (payload: Buffer): unknown => {
  try {
    return JSON.parse(payload.toString());
  } catch {
    return undefined;
  }
};

/**
 * Connects with the message recorder in place before CONNACK: a persistent session's queue is
 * replayed right after CONNACK, possibly in the same read, before connectAsync would resolve.
 */
async function open(baton: TestBaton, options: IClientOptions): Promise<Recorder> {
  const client = mqtt.connect(baton.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  opened.push(client);
  const received: Received[] = [];
  client.on('message', (topic, payload, packet) => received.push({ topic, payload, json: parse(payload), retain: packet.retain }));
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve);
    client.on('error', reject); // a no-op once connected
  });
  return { client, connack, received };
}

const openDevice = (baton: TestBaton, device: { id: string; secret: string }, options: IClientOptions = {}) =>
  open(baton, { clientId: device.id, username: device.id, password: device.secret, ...options });

/** Resolves with the first recorded message matching `predicate` (already received or later). */
const arrival = (r: Recorder, predicate: (m: Received) => boolean): Promise<Received> => eventually(() => r.received.find(predicate));

const deviceSession = async (baton: TestBaton, id: string) => {
  const res = await baton.api('GET', `/api/v1/devices/${id}`);
  expect(res.status).toBe(200);
  return res.body.session as { persistent: boolean; queued: number; queuedBytes: number; dropped: number; expiresAt: string | null };
};

const metric = async (baton: TestBaton, name: string): Promise<number> => {
  const text = (await baton.api('GET', '/metrics')).body as string;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
};

const db = (baton: TestBaton) => (baton.service.store as any).db as import('better-sqlite3').Database;

const subscriptionRows = (baton: TestBaton, clientId: string): string[] =>
  (db(baton).prepare('SELECT topic FROM mqtt_subscriptions WHERE client_id = ? ORDER BY topic').all(clientId) as Array<{ topic: string }>).map((r) => r.topic);

/** Waits until the store has recorded that the session's client went away (anonymous clients have no GET). */
const awayInStore = (baton: TestBaton, clientId: string) =>
  eventually(() => {
    const row = db(baton).prepare('SELECT disconnected_at FROM mqtt_sessions WHERE client_id = ?').get(clientId) as { disconnected_at: number | null } | undefined;
    return row?.disconnected_at ?? undefined;
  });

/**
 * Waits until every queued message of a session was acknowledged. A sent but unacknowledged
 * message still counts against the bounds (README: "while it is offline or not acknowledging"),
 * so a marker published before the PUBACKs are in could push it out and count as a drop.
 */
const drained = (baton: TestBaton, clientId: string) =>
  eventually(() => {
    const { n } = db(baton).prepare('SELECT count(*) AS n FROM mqtt_outgoing WHERE client_id = ?').get(clientId) as { n: number };
    return n === 0 ? true : undefined;
  });

const patchDesired = async (baton: TestBaton, id: string, desired: Record<string, unknown>) => {
  const res = await baton.api('PATCH', `/api/v1/devices/${id}/shadow`, { state: { desired } });
  expect(res.status).toBe(200);
  return res.body;
};

describe('persistent MQTT sessions and their bounds', () => {
  it('keeps the newest BATON_SESSION_MAX_QUEUED messages of an offline session and replays them on reconnect', async () => {
    const baton = await startBaton({ sessionMaxQueued: 5 });
    const device = await baton.createDevice('dev-1');
    const delta = 'devices/dev-1/shadow/update/delta';
    const first = await baton.connectDevice(device, { clean: false });
    expect(await subscribeGranted(first, [delta], 1)).toEqual([1]);
    await first.endAsync();
    await eventually(async () => ((await deviceSession(baton, 'dev-1')).expiresAt !== null ? true : undefined));

    for (let i = 1; i <= 8; i++) await patchDesired(baton, 'dev-1', { n: i });

    const session = await eventually(async () => {
      const s = await deviceSession(baton, 'dev-1');
      return s.queued === 5 && s.dropped === 3 ? s : undefined;
    });
    expect(session).toMatchObject({ persistent: true, queued: 5, dropped: 3 });
    expect(session.expiresAt).toEqual(expect.any(String));
    expect(session.queuedBytes).toBeGreaterThan(0);
    expect(await metric(baton, 'baton_session_dropped_messages_total')).toBe(3);

    // Reconnect without subscribing again; a ninth change is the marker that the replay is over.
    const again = await openDevice(baton, device, { clean: false });
    expect(again.connack.sessionPresent).toBe(true);
    await arrival(again, (m) => m.topic === delta && m.json?.version === 8);
    const after = await eventually(async () => {
      const s = await deviceSession(baton, 'dev-1');
      return s.queued === 0 ? s : undefined;
    });
    expect(after).toMatchObject({ persistent: true, queued: 0, queuedBytes: 0, dropped: 3, expiresAt: null });
    await patchDesired(baton, 'dev-1', { n: 9 });
    await arrival(again, (m) => m.topic === delta && m.json?.state?.n === 9);
    expect(again.received.map((m) => [m.topic, m.json.version, m.json.state.n])).toEqual([
      [delta, 4, 4], [delta, 5, 5], [delta, 6, 6], [delta, 7, 7], [delta, 8, 8], [delta, 9, 9],
    ]);
  });

  it('keeps at most BATON_SESSION_MAX_QUEUED_BYTES of payload, the newest message always', async () => {
    const baton = await startBaton({ allowAnonymous: true, sessionMaxQueuedBytes: 1024 });
    const sub = await baton.connect({ clientId: 'sub', clean: false });
    expect(await subscribeGranted(sub, ['lab/#'], 1)).toEqual([1]);
    await sub.endAsync();
    await awayInStore(baton, 'sub');

    const pub = await baton.connect({ clientId: 'pub' });
    for (let i = 1; i <= 3; i++) await pub.publishAsync(`lab/m${i}`, Buffer.alloc(600, 48 + i), { qos: 1 });

    const again = await open(baton, { clientId: 'sub', clean: false });
    expect(again.connack.sessionPresent).toBe(true);
    await arrival(again, (m) => m.topic === 'lab/m3');
    await drained(baton, 'sub');
    await pub.publishAsync('lab/marker', 'm', { qos: 1 });
    await arrival(again, (m) => m.topic === 'lab/marker');
    expect(again.received.map((m) => [m.topic, m.payload.length])).toEqual([['lab/m3', 600], ['lab/marker', 1]]);
    expect(again.received[0]!.payload.equals(Buffer.alloc(600, 48 + 3))).toBe(true);
    expect(await metric(baton, 'baton_session_dropped_messages_total')).toBe(2);

    // A single message larger than the bound still gets in (and pushes out the older one).
    await again.client.endAsync();
    await awayInStore(baton, 'sub');
    await pub.publishAsync('lab/small', Buffer.alloc(100, 120), { qos: 1 });
    await pub.publishAsync('lab/big', Buffer.alloc(2000, 121), { qos: 1 });
    const third = await open(baton, { clientId: 'sub', clean: false });
    expect(third.connack.sessionPresent).toBe(true);
    await arrival(third, (m) => m.topic === 'lab/big');
    await drained(baton, 'sub');
    await pub.publishAsync('lab/marker', 'm', { qos: 1 });
    await arrival(third, (m) => m.topic === 'lab/marker');
    expect(third.received.map((m) => [m.topic, m.payload.length])).toEqual([['lab/big', 2000], ['lab/marker', 1]]);
    expect(await metric(baton, 'baton_session_dropped_messages_total')).toBe(3);
  });

  it('deletes a session whose client stayed away longer than BATON_SESSION_EXPIRY_S (fake clock)', async () => {
    let now = Date.now();
    const baton = await startBaton({ sessionExpiryS: 60 }, { clock: () => now });
    const device = await baton.createDevice('dev-1');
    const client = await baton.connectDevice(device, { clean: false });
    expect(await subscribeGranted(client, ['devices/dev-1/shadow/update/delta'], 1)).toEqual([1]);
    const disconnectedAt = now;
    await client.endAsync();

    const away = await eventually(async () => {
      const s = await deviceSession(baton, 'dev-1');
      return s.expiresAt !== null ? s : undefined;
    });
    expect(away).toMatchObject({ persistent: true, expiresAt: new Date(disconnectedAt + 60_000).toISOString() });

    now += 61_000;
    const expired = await eventually(async () => {
      const s = await deviceSession(baton, 'dev-1');
      return s.persistent === false ? s : undefined;
    });
    expect(expired).toMatchObject({ persistent: false, queued: 0, expiresAt: null });
    await eventually(() => (subscriptionRows(baton, 'dev-1').length === 0 ? true : undefined));

    const again = await openDevice(baton, device, { clean: false });
    expect(again.connack.sessionPresent).toBe(false);
  });

  it('refuses filters past BATON_MQTT_MAX_SUBSCRIPTIONS with 0x80, and frees a slot on UNSUBSCRIBE', async () => {
    const baton = await startBaton({ allowAnonymous: true, mqttMaxSubscriptions: 3 });
    const client = await baton.connect({ clientId: 'many' });
    expect(await subscribeGranted(client, ['a/1', 'a/2', 'a/3', 'a/4', 'a/5'], 1)).toEqual([1, 1, 1, 128, 128]);
    expect(await subscribeGranted(client, ['a/2'], 1)).toEqual([1]); // held already: no new slot
    expect(await subscribeGranted(client, ['a/6'], 1)).toEqual([128]);

    await client.unsubscribeAsync('a/1');
    expect(await subscribeGranted(client, ['a/6'], 1)).toEqual([1]);
    expect(await metric(baton, 'baton_subscription_limit_refusals_total')).toBe(3);

    // A refused filter delivers nothing; the newly granted one does.
    const seen: string[] = [];
    client.on('message', (t) => seen.push(t));
    const pub = await baton.connect({ clientId: 'pub' });
    await pub.publishAsync('a/4', 'x', { qos: 1 });
    await pub.publishAsync('a/1', 'x', { qos: 1 });
    const got = nextMessage(client, (t) => t === 'a/6');
    await pub.publishAsync('a/6', 'x', { qos: 1 });
    await got;
    expect(seen).toEqual(['a/6']);
  });

  it('never stores a refused filter in a persistent session', async () => {
    const baton = await startBaton({ allowAnonymous: true });
    const watcher = await baton.connect({ clientId: 'watcher', clean: false });
    expect(await subscribeGranted(watcher, ['devices/+/telemetry/#', 'lab/#'], 1)).toEqual([128, 1]);
    expect(
      (baton.service.store as any).db.prepare('SELECT topic FROM mqtt_subscriptions WHERE client_id = ?').all('watcher'),
    ).toEqual([{ topic: 'lab/#' }]);
    await watcher.endAsync();
    await awayInStore(baton, 'watcher');

    const device = await baton.connectDevice(await baton.createDevice('dev-1'));
    await device.publishAsync('devices/dev-1/telemetry/env', JSON.stringify({ temp: 21 }), { qos: 1 });

    const again = await open(baton, { clientId: 'watcher', clean: false });
    expect(again.connack.sessionPresent).toBe(true);
    const other = await baton.connect({ clientId: 'other' });
    await other.publishAsync('lab/x', 'marker', { qos: 1 });
    await arrival(again, (m) => m.topic === 'lab/x');
    expect(again.received.map((m) => m.topic)).toEqual(['lab/x']);
    expect(subscriptionRows(baton, 'watcher')).toEqual(['lab/#']);
  });

  it('grants 5,000 filters in one SUBSCRIBE without stalling the service, and keeps them across a restart', async () => {
    const baton = await startBaton({ allowAnonymous: true, mqttMaxSubscriptions: 10_000 });
    const filters = Array.from({ length: 5000 }, (_, i) => `load/${i}/#`);
    const bulk = await baton.connect({ clientId: 'bulk', clean: false });

    const [granted, health] = await Promise.all([
      subscribeGranted(bulk, filters, 1),
      fetch(`${baton.httpUrl}/healthz`).then((r) => r.status),
    ]);
    expect(granted).toHaveLength(5000);
    expect(granted.every((g) => g === 1)).toBe(true);
    expect(health).toBe(200);
    expect(db(baton).prepare('SELECT count(*) AS n FROM mqtt_subscriptions WHERE client_id = ?').get('bulk')).toEqual({ n: 5000 });

    const restarted = await baton.restart();
    const again = await open(restarted, { clientId: 'bulk', clean: false });
    expect(again.connack.sessionPresent).toBe(true);
    const pub = await restarted.connect({ clientId: 'pub' });
    await pub.publishAsync('load/4321/x', 'hello', { qos: 1 });
    const got = await arrival(again, (m) => m.topic === 'load/4321/x');
    expect(got.payload.toString()).toBe('hello');
  });

  describe('retained messages', () => {
    it('ignores the retain flag under devices/', async () => {
      const baton = await startBaton();
      const device = await baton.connectDevice(await baton.createDevice('dev-1'));
      await device.publishAsync('devices/dev-1/telemetry/env', JSON.stringify({ seq: 1 }), { qos: 1, retain: true });

      const integration = await baton.connect({ clientId: 'int', username: 'api', password: ADMIN_TOKEN });
      const seen: Array<{ topic: string; json: any; retain: boolean }> = [];
      integration.on('message', (topic, payload, packet) => seen.push({ topic, json: parse(payload), retain: packet.retain }));
      expect(await subscribeGranted(integration, ['devices/+/telemetry/#'], 1)).toEqual([1]);
      const marker = nextMessage(integration, (t) => t === 'devices/dev-1/telemetry/env');
      await device.publishAsync('devices/dev-1/telemetry/env', JSON.stringify({ seq: 2 }), { qos: 1 });
      expect((await marker).json).toEqual({ seq: 2 });
      expect(seen).toEqual([{ topic: 'devices/dev-1/telemetry/env', json: { seq: 2 }, retain: false }]);
      expect(db(baton).prepare('SELECT count(*) AS n FROM mqtt_retained').get()).toEqual({ n: 0 });
    });

    it('keeps at most BATON_MQTT_MAX_RETAINED topics; clearing one frees a slot', async () => {
      const baton = await startBaton({ allowAnonymous: true, mqttMaxRetained: 2 });
      const pub = await baton.connect({ clientId: 'pub' });
      for (const t of ['r/1', 'r/2', 'r/3']) await pub.publishAsync(t, `v-${t}`, { qos: 1, retain: true });

      const retainedOf = async (clientId: string, expected: number): Promise<Array<[string, string]>> => {
        const watcher = await open(baton, { clientId });
        expect(await subscribeGranted(watcher.client, ['#'], 1)).toEqual([1]);
        await eventually(() => (watcher.received.filter((m) => m.retain).length >= expected ? true : undefined));
        await pub.publishAsync(`marker/${clientId}`, 'm', { qos: 1 });
        await arrival(watcher, (m) => m.topic === `marker/${clientId}`);
        const before = watcher.received.slice(0, watcher.received.findIndex((m) => m.topic === `marker/${clientId}`));
        expect(before.every((m) => m.retain)).toBe(true);
        return before.map((m): [string, string] => [m.topic, m.payload.toString()]).sort();
      };

      expect(await retainedOf('w1', 2)).toEqual([['r/1', 'v-r/1'], ['r/2', 'v-r/2']]);

      await pub.publishAsync('r/1', '', { qos: 1, retain: true }); // clears r/1
      await pub.publishAsync('r/4', 'v-r/4', { qos: 1, retain: true });
      expect(await retainedOf('w2', 2)).toEqual([['r/2', 'v-r/2'], ['r/4', 'v-r/4']]);
    });

    it('keeps retained messages across a restart', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const pub = await baton.connect({ clientId: 'pub' });
      await pub.publishAsync('keep/a', 'A', { qos: 1, retain: true });

      const restarted = await baton.restart();
      const watcher = await open(restarted, { clientId: 'w' });
      expect(await subscribeGranted(watcher.client, ['keep/#'], 1)).toEqual([1]);
      const got = await arrival(watcher, (m) => m.topic === 'keep/a');
      expect([got.payload.toString(), got.retain]).toEqual(['A', true]);
    });
  });

  it('never echoes a device\'s own uplink back to it, live or queued', async () => {
    const baton = await startBaton();
    const device = await baton.createDevice('dev-1');
    const dev = await openDevice(baton, device, { clean: false });
    expect(await subscribeGranted(dev.client, ['devices/dev-1/#'], 1)).toEqual([1]);

    await dev.client.publishAsync('devices/dev-1/telemetry', JSON.stringify({ temp: 21 }), { qos: 1 });
    await dev.client.publishAsync('devices/dev-1/health', JSON.stringify({ batteryPct: 80 }), { qos: 1 });
    // Queueing happens before the PUBACK: nothing was queued for the device's own uplink.
    expect(await deviceSession(baton, 'dev-1')).toMatchObject({ persistent: true, queued: 0 });

    await patchDesired(baton, 'dev-1', { n: 1 });
    await arrival(dev, (m) => m.topic === 'devices/dev-1/shadow/update/delta');
    // The delta is the first message the device gets (the change also sends update/documents).
    expect(dev.received[0]!.topic).toBe('devices/dev-1/shadow/update/delta');
    expect(dev.received.filter((m) => /^devices\/dev-1\/(telemetry|health)/.test(m.topic))).toEqual([]);
    const settled = await eventually(async () => {
      const s = await deviceSession(baton, 'dev-1');
      return s.queued === 0 ? s : undefined;
    });
    expect(settled).toMatchObject({ persistent: true, queued: 0, dropped: 0, expiresAt: null });

    expect(await subscribeGranted(dev.client, ['devices/dev-1/telemetry'], 1)).toEqual([128]);
  });
});
