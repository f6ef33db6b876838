import { describe, expect, it, onTestFinished } from 'vitest';
import { connect, topics, type ConnectOptions, type DeviceClient, type JsonObject } from '../device-sdk/index.js';
import { ManualClock } from '../device-sdk/test-fixtures.js';
import { eventually, startBaton, type TestBaton } from './helpers/service.js';

/** An SDK client for dev-1 (registered by `device()`), closed at the end of the test. */
async function open(baton: TestBaton, secret: string, extra: Partial<ConnectOptions> = {}): Promise<DeviceClient> {
  const client = await connect({ url: baton.mqttUrl, deviceId: 'dev-1', secret, health: { enabled: false }, ...extra });
  onTestFinished(() => client.close());
  return client;
}

async function device(baton: TestBaton, extra: Partial<ConnectOptions> = {}) {
  const { secret } = await baton.createDevice('dev-1');
  return { secret, client: await open(baton, secret, extra) };
}

const next = (client: DeviceClient, event: 'connect' | 'disconnect') => new Promise<void>((resolve) => client.once(event, () => resolve()));

/**
 * dev-1 with its classic shadow reported as `{ led: 'off' }`, reconnecting only when the test
 * calls `reconnect()`: the link can stay down while an operator changes desired state. Requests
 * never time out on this clock, and nothing else is pending when it is advanced.
 */
async function reconnectingOnCue(baton: TestBaton) {
  const clock = new ManualClock();
  const { client } = await device(baton, { clock, reconnect: { minMs: 50, maxMs: 50 } });
  const shadow = client.shadow();
  await shadow.report({ led: 'off' });
  const reconnect = async () => {
    const up = next(client, 'connect');
    clock.advance(100);
    await up;
  };
  return { client, shadow, reconnect };
}

const query = (name?: string) => (name === undefined ? '' : `?name=${name}`);
const restShadow = async (baton: TestBaton, name?: string) => (await baton.api('GET', `/api/v1/devices/dev-1/shadow${query(name)}`)).body;
async function setDesired(baton: TestBaton, desired: JsonObject, name?: string): Promise<number> {
  const res = await baton.api('PATCH', `/api/v1/devices/dev-1/shadow${query(name)}`, { state: { desired } });
  expect(res.status).toBe(200);
  return res.body.version as number;
}

/** Polls until the REST view of the shadow has no delta left; returns the document. */
const settled = (baton: TestBaton, name?: string) =>
  eventually(async () => {
    const doc = await restShadow(baton, name);
    return doc.state && doc.state.delta === undefined ? doc : undefined;
  });

/**
 * Waits for the PUBACK of everything sent: the accepted reply can beat it, and a report still
 * unacknowledged when the link drops is rightly sent again after the reconnect (QoS 1).
 */
const acknowledged = (client: DeviceClient) => eventually(() => (Object.keys(client.mqtt.outgoing).length === 0 ? true : undefined));

/** The versions of the `update/delta` messages the client receives (the SDK has seen each first). */
function deltaVersions(client: DeviceClient, name?: string): number[] {
  const topic = topics.shadow('dev-1', name, 'update/delta');
  const versions: number[] = [];
  client.mqtt.on('message', (t, payload) => {
    if (t === topic) versions.push(JSON.parse(payload.toString()).version);
  });
  return versions;
}

/** Records every call of a delta handler and answers with what `answer` returns. */
function recorder(answer: (delta: JsonObject) => JsonObject | undefined | Promise<JsonObject | undefined> = (d) => d) {
  const calls: Array<[JsonObject, number]> = [];
  const handler = async (delta: JsonObject, version: number) => {
    calls.push([delta, version]);
    return answer(delta);
  };
  return { calls, handler };
}

describe('Device SDK: shadows', () => {
  it('gets and reports: NotFound before the first write, then the document, with snapshots kept', async () => {
    const baton = await startBaton();
    const { client } = await device(baton);
    const shadow = client.shadow();
    expect(client.shadow()).toBe(shadow);
    await expect(shadow.get()).rejects.toMatchObject({ code: 'NotFound' });

    const accepted = await shadow.report({ fw: '1.0.0', net: { rssi: -60, ssid: 'plant' } });
    expect(accepted).toMatchObject({ state: { reported: { fw: '1.0.0', net: { rssi: -60, ssid: 'plant' } } }, version: 1 });
    const second = await shadow.report({ net: { rssi: null } });
    expect(second.version).toBe(2);
    expect(shadow.reported).toEqual({ fw: '1.0.0', net: { ssid: 'plant' } });
    expect(shadow.version).toBe(2);
    expect(Object.isFrozen(shadow.reported)).toBe(true);

    const doc = await shadow.get();
    expect(doc).toMatchObject({ state: { desired: {}, reported: { fw: '1.0.0', net: { ssid: 'plant' } } }, version: 2 });
    expect(doc.state.delta).toBeUndefined();
    expect((await restShadow(baton)).state.reported).toEqual(shadow.reported);
  });

  it('raises a desired change made over REST and reports what the handler returns, clearing the delta', async () => {
    const baton = await startBaton();
    const { client } = await device(baton);
    const shadow = client.shadow();
    await shadow.report({ led: 'off', fw: '1.0.0' });
    const { calls, handler } = recorder((delta) => ({ led: delta['led'] ?? null, appliedAt: 'boot' }));
    shadow.onDelta(handler);

    const version = await setDesired(baton, { led: 'on' });
    const doc = await settled(baton);
    expect(calls).toEqual([[{ led: 'on' }, version]]);
    expect(doc).toMatchObject({ state: { desired: { led: 'on' }, reported: { led: 'on', fw: '1.0.0', appliedAt: 'boot' } }, version: version + 1 });
    await eventually(() => (shadow.version === version + 1 ? true : undefined));
    expect(shadow.desired).toEqual({ led: 'on' });
    expect(shadow.reported).toEqual({ led: 'on', fw: '1.0.0', appliedAt: 'boot' });
  });

  it('keeps a handler answer that resolves only part of the delta from being asked again', async () => {
    const baton = await startBaton();
    const { client } = await device(baton);
    const shadow = client.shadow();
    const { calls, handler } = recorder(() => ({ led: 'on' })); // cannot change the mode
    shadow.onDelta(handler);
    const deltas = deltaVersions(client);

    const version = await setDesired(baton, { led: 'on', mode: 'eco' });
    const doc = await eventually(async () => {
      const d = await restShadow(baton);
      return d.version === version + 1 ? d : undefined;
    });
    expect(doc.state.delta).toEqual({ mode: 'eco' });
    // What remains is sent at version + 1 (the report changed the delta); the handler is not asked again.
    await eventually(() => (deltas.includes(version + 1) ? true : undefined));
    expect(deltas).toEqual([version, version + 1]);
    expect(calls).toEqual([[{ led: 'on', mode: 'eco' }, version]]);
    expect((await restShadow(baton)).version).toBe(version + 1);
  });

  it('gives a device process that restarted the delta from while it was away, once', async () => {
    const baton = await startBaton();
    const { secret, client } = await device(baton);
    await client.shadow().report({ led: 'off' });
    await client.close();

    const version = await setDesired(baton, { led: 'on' });
    // A new client: the session's queued delta arrives before any handler exists; the get does not.
    const again = await open(baton, secret);
    const { calls, handler } = recorder();
    again.shadow().onDelta(handler);
    const doc = await settled(baton);
    expect(calls).toEqual([[{ led: 'on' }, version]]);
    expect(doc.state.reported).toEqual({ led: 'on' });
  });

  it('raises a desired change made while the broker was down and lost the session (get on reconnect)', async () => {
    const baton = await startBaton();
    const { client, shadow, reconnect } = await reconnectingOnCue(baton);
    const { calls, handler } = recorder();
    shadow.onDelta(handler);
    await acknowledged(client);

    const down = next(client, 'disconnect');
    await baton.stop();
    await down;
    const restarted = await baton.restart({ mqttPort: baton.mqttPort });
    const version = await setDesired(restarted, { led: 'on' });
    await reconnect();

    const doc = await settled(restarted);
    expect(calls).toEqual([[{ led: 'on' }, version]]);
    expect(doc).toMatchObject({ state: { reported: { led: 'on' } }, version: version + 1 });
  });

  it('raises a delta that reaches it twice (queued for the persistent session, and in the get) once', async () => {
    const baton = await startBaton();
    const { client, shadow, reconnect } = await reconnectingOnCue(baton);
    const seen = { queued: 0, inGet: 0 };
    client.mqtt.on('message', (topic, payload) => {
      if (topic === topics.shadow('dev-1', undefined, 'update/delta')) seen.queued++;
      if (topic === topics.shadow('dev-1', undefined, 'get/accepted') && JSON.parse(payload.toString()).state.delta) seen.inGet++;
    });
    // The handler holds its answer until both copies have arrived, so the second one is a true duplicate.
    const { calls, handler } = recorder(async (delta) => {
      await eventually(() => (seen.queued > 0 && seen.inGet > 0 ? true : undefined));
      return delta;
    });
    shadow.onDelta(handler);

    await acknowledged(client);
    const down = next(client, 'disconnect');
    client.mqtt.stream.destroy(); // the link drops; the broker keeps the session
    await down;
    await eventually(async () => ((await baton.api('GET', '/api/v1/devices/dev-1')).body.status === 'offline' ? true : undefined));
    const version = await setDesired(baton, { led: 'on' });
    await reconnect();

    const doc = await settled(baton);
    expect(seen).toEqual({ queued: 1, inGet: 1 });
    expect(calls).toEqual([[{ led: 'on' }, version]]);
    expect(doc).toMatchObject({ state: { reported: { led: 'on' } }, version: version + 1 });
  });

  it('retries a report that meets VersionConflict after reading the document again', async () => {
    const baton = await startBaton();
    const { client } = await device(baton);
    const shadow = client.shadow();
    await shadow.report({ led: 'off' });
    const sent = interceptRequests(client, async (topic) => {
      // An operator's change lands between the SDK building the update and the broker receiving it.
      if (topic.endsWith('/update') && sent.length === 1) await setDesired(baton, { led: 'on' });
    });

    const accepted = await shadow.report({ temp: 21 });
    expect(sent).toEqual([
      ['devices/dev-1/shadow/update', { state: { reported: { temp: 21 } }, version: 1 }],
      ['devices/dev-1/shadow/get', {}],
      ['devices/dev-1/shadow/update', { state: { reported: { temp: 21 } }, version: 2 }],
    ]);
    expect(accepted.version).toBe(3);
    expect(shadow.desired).toEqual({ led: 'on' });
    expect(shadow.reported).toEqual({ led: 'off', temp: 21 });
  });

  it('gives up after REPORT_ATTEMPTS conflicts with the VersionConflict code', async () => {
    const baton = await startBaton();
    const { client } = await device(baton);
    const shadow = client.shadow();
    await shadow.report({ led: 'off' });
    let n = 0;
    const sent = interceptRequests(client, async (topic) => {
      if (topic.endsWith('/update')) await setDesired(baton, { n: ++n });
    });

    await expect(shadow.report({ temp: 21 })).rejects.toMatchObject({ code: 'VersionConflict' });
    expect(sent.map(([topic]) => topic.split('/').pop())).toEqual(['update', 'get', 'update', 'get', 'update']);
    expect((await restShadow(baton)).state.reported).toEqual({ led: 'off' });
  });

  it('keeps a named shadow apart from the classic one', async () => {
    const baton = await startBaton();
    const { client } = await device(baton);
    const classic = recorder();
    const named = recorder();
    client.shadow().onDelta(classic.handler);
    const cfg = client.shadow('cfg');
    cfg.onDelta(named.handler);
    expect(client.shadow('cfg')).toBe(cfg);
    expect(() => client.shadow('no/slash')).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));

    await cfg.report({ interval: 10 });
    const version = await setDesired(baton, { interval: 30 }, 'cfg');
    const doc = await settled(baton, 'cfg');
    expect(named.calls).toEqual([[{ interval: 30 }, version]]);
    expect(classic.calls).toEqual([]);
    expect(doc.state.reported).toEqual({ interval: 30 });
    await eventually(() => (cfg.version === version + 1 ? true : undefined)); // the REST view can be ahead of the reply
    expect(cfg.reported).toEqual({ interval: 30 });
    await expect(client.shadow().get()).rejects.toMatchObject({ code: 'NotFound' });
  });

  it('refuses a second delta handler on one shadow', async () => {
    const baton = await startBaton();
    const { client } = await device(baton);
    const off = client.shadow().onDelta(() => undefined);
    expect(() => client.shadow().onDelta(() => undefined)).toThrow(expect.objectContaining({ code: 'Conflict' }));
    off();
    expect(() => client.shadow().onDelta(() => undefined)).not.toThrow();
  });
});

/**
 * Records every request the client sends (topic and payload, without the clientToken) and runs
 * `before` ahead of each: one method of the live client is overridden, nothing else changes.
 */
function interceptRequests(client: DeviceClient, before: (topic: string) => Promise<void>): Array<[string, object]> {
  const sent: Array<[string, object]> = [];
  const original = client.request.bind(client);
  client.request = async (topic, payload, options) => {
    sent.push([topic, payload]);
    await before(topic);
    return original(topic, payload, options);
  };
  return sent;
}
