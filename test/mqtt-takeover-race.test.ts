/**
 * Presence when a takeover [MQTT-3.1.4-2] goes wrong: the new connection authenticated (so the
 * old one was about to be replaced) but died before aedes registered it. The device must end up
 * online if the old connection is still up, offline if both are gone. The race is made
 * deterministic by holding the new connection's authentication (an injected wrapper) while the
 * test closes sockets.
 */
import { connect, type Socket } from 'node:net';
import type { Aedes, Client } from 'aedes';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Authenticator } from '../broker/mqtt/authenticate.js';
import { connectPacket } from './helpers/raw-mqtt.js';
import { eventually, startBaton, whenClosed, type TestBaton } from './helpers/service.js';
import { captureAedes } from './helpers/aedes.js';

afterEach(() => {
  vi.restoreAllMocks();
});

interface Harness {
  baton: TestBaton;
  aedes: () => Aedes;
  device: { id: string; secret: string };
  /** Holds the next authentication of the device until `release()`; `entered` resolves when it is held. */
  holdNext(): { entered: Promise<void>; release(beforeResult?: () => void): void };
  status(): Promise<string>;
}

async function setUp(): Promise<Harness> {
  const created = captureAedes();
  let hold: { entered: () => void; released: Promise<() => void> } | undefined;
  const wrapAuthenticator = (authenticate: Authenticator): Authenticator => async (req) => {
    const result = await authenticate(req);
    const held = req.clientId === 'dev-1' ? hold : undefined;
    if (held) {
      hold = undefined;
      held.entered();
      const beforeResult = await held.released;
      beforeResult();
    }
    return result;
  };
  const baton = await startBaton({}, { wrapAuthenticator });
  const device = await baton.createDevice('dev-1');
  return {
    baton,
    device,
    aedes: () => created[0]!,
    holdNext() {
      let entered!: () => void;
      let release!: (beforeResult: () => void) => void;
      const enteredP = new Promise<void>((resolve) => (entered = resolve));
      hold = { entered, released: new Promise((resolve) => (release = resolve)) };
      return { entered: enteredP, release: (beforeResult = () => undefined) => release(beforeResult) };
    },
    status: async () => (await baton.api('GET', '/api/v1/devices/dev-1')).body.status,
  };
}

/** A raw socket that sends the device's CONNECT (and nothing else). */
async function rawConnect(h: Harness): Promise<Socket> {
  const socket = connect(h.baton.mqttPort, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(connectPacket({ clientId: h.device.id, clean: true, username: h.device.id, password: h.device.secret }));
  return socket;
}

const settle = (ms = 150) => new Promise((resolve) => setTimeout(resolve, ms));
const registered = (h: Harness) => (h.aedes() as unknown as { clients: Record<string, Client | undefined> }).clients['dev-1'];

/** The old connection, still working: a QoS 1 telemetry message is acknowledged. */
async function works(client: MqttClient): Promise<boolean> {
  return client.publishAsync('devices/dev-1/telemetry', '{"ok":true}', { qos: 1 }).then(() => true, () => false);
}

describe('presence when a takeover connection dies before it registers', () => {
  it('the old connection still up: the device stays online, and goes offline when the old one goes', async () => {
    const h = await setUp();
    const old = await h.baton.connectDevice(h.device);
    const held = h.holdNext();
    const newer = await rawConnect(h);
    await held.entered; // the newer connection is authenticating
    newer.destroy();
    await settle(); // the broker has seen it close
    held.release(); // ... and now its authentication succeeds

    await settle();
    expect(await h.status()).toBe('online');
    expect(await works(old)).toBe(true);
    expect(registered(h)).toBeDefined();

    await old.endAsync();
    expect(await eventually(async () => ((await h.status()) === 'offline' ? 'offline' : undefined))).toBe('offline');
    const log = await h.baton.service.store.connections.recent('dev-1', 10);
    expect(log.map((e) => `${e.event}${e.reason ? ` ${e.reason}` : ''}`)).toEqual(['disconnected client-disconnect', 'connected']);
  });

  it('the old connection gone while the new one authenticated, the new one dying: offline', async () => {
    const h = await setUp();
    const old = await h.baton.connectDevice(h.device);
    const oldClosed = whenClosed(old);
    const held = h.holdNext();
    const newer = await rawConnect(h);
    await held.entered;
    newer.destroy();
    await settle();
    // The old connection drops on the broker's side just after the newer one was admitted.
    const oldClient = registered(h)!;
    held.release(() => setImmediate(() => oldClient.close()));
    await oldClosed;
    expect(await eventually(async () => ((await h.status()) === 'offline' ? 'offline' : undefined))).toBe('offline');
    await settle();
    expect(await h.status()).toBe('offline');
    expect(registered(h)).toBeUndefined();
  });

  it('the old connection gone while the new one authenticated, the new one registering: online throughout', async () => {
    const h = await setUp();
    const old = await h.baton.connectDevice(h.device);
    const oldClosed = whenClosed(old);
    const held = h.holdNext();
    const next = h.baton.connectDevice(h.device);
    await held.entered;
    held.release(() => registered(h)!.close());
    const newer = await next;
    await oldClosed;
    expect(await h.status()).toBe('online');
    expect(await works(newer)).toBe(true);
    await newer.endAsync();
    expect(await eventually(async () => ((await h.status()) === 'offline' ? 'offline' : undefined))).toBe('offline');
  });

  it('whatever the interleaving, ends online exactly when a connection is left, and offline once none is', async () => {
    const h = await setUp();
    // When the newer connection dies relative to its authentication, and whether the old one is dropped then.
    const plans = [0, 1, 5].flatMap((dieAfterMs) =>
      (['no', 'now', 'next-turn'] as const).map((dropOld) => ({ dieAfterMs, dropOld })));
    for (const plan of plans) {
      const old = await h.baton.connectDevice(h.device);
      const held = h.holdNext();
      const newer = await rawConnect(h);
      await held.entered;
      const oldClient = registered(h)!;
      held.release(() => {
        if (plan.dropOld === 'now') oldClient.close();
        if (plan.dropOld === 'next-turn') setImmediate(() => oldClient.close());
        setTimeout(() => newer.destroy(), plan.dieAfterMs);
      });
      await settle(300);
      const oldUp = old.connected && (await works(old));
      expect({ plan, status: await h.status() }).toEqual({ plan, status: oldUp ? 'online' : 'offline' });
      await old.endAsync(true);
      expect(await eventually(async () => ((await h.status()) === 'offline' ? 'offline' : undefined))).toBe('offline');
    }
  });
});
