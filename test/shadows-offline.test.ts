import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { shadowDeltaSchema } from '../device-sdk/protocol/shadow.js';
import { attach, shadowDevice } from './helpers/shadows.js';
import { nextMessage, startBaton } from './helpers/service.js';

const deltaTopic = 'devices/dev-1/shadow/update/delta';

describe('offline devices and restarts', () => {
  it('queues the delta for a device with a persistent session and delivers it on reconnect', async () => {
    const baton = await startBaton();
    const dev = await shadowDevice(baton, 'dev-1', { clean: false });
    await dev.request('update', { state: { reported: { led: 'off' } } });
    await dev.client.endAsync();

    await baton.api('PATCH', '/api/v1/devices/dev-1/shadow', { state: { desired: { led: 'on' } } });

    // Reconnect without subscribing again: the session's subscription brings the queued delta.
    // The listener is in place before CONNACK: the queued message may follow it in the same read.
    const client = mqtt.connect(baton.mqttUrl, { clientId: 'dev-1', username: 'dev-1', password: dev.secret, clean: false, reconnectPeriod: 0 });
    try {
      const delta = nextMessage(client, (t) => t === deltaTopic);
      expect(shadowDeltaSchema.parse((await delta).json)).toMatchObject({ state: { led: 'on' }, version: 2 });
    } finally {
      await client.endAsync();
    }
  });

  it('gives a device without a persistent session the delta on the get it sends after reconnecting', async () => {
    const baton = await startBaton();
    const dev = await shadowDevice(baton, 'dev-1');
    await dev.request('update', { state: { reported: { led: 'off' } } });
    await dev.client.endAsync();

    await baton.api('PATCH', '/api/v1/devices/dev-1/shadow', { state: { desired: { led: 'on' } } });

    const again = await attach(baton, dev);
    const doc = await again.request('get');
    expect(doc.body).toMatchObject({ state: { delta: { led: 'on' } }, version: 2 });
  });

  it('keeps shadows, versions and history across a restart', async () => {
    const baton = await startBaton();
    const dev = await shadowDevice(baton, 'dev-1');
    await dev.request('update', { state: { reported: { a: 1 } } });
    await dev.request('update', { state: { reported: { b: 2 } } }, 'cfg');
    await dev.request('update', { state: { reported: { a: 2 } } });
    await dev.request('delete', '', 'cfg');
    const before = (await dev.request('get')).body;

    const restarted = await baton.restart();
    const after = await attach(restarted, dev);
    const doc = await after.request('get');
    expect({ ...doc.body, timestamp: 0 }).toEqual({ ...before, timestamp: 0 });
    expect((await after.request('get', '', 'cfg')).body.code).toBe('NotFound');
    expect((await after.request('update', { state: { reported: { c: 3 } } }, 'cfg')).body.version).toBe(2);
    expect((await after.request('update', { state: { reported: { a: 3 } }, version: 2 })).body.version).toBe(3);
    const history = await restarted.api('GET', '/api/v1/devices/dev-1/shadow/history');
    expect(history.body.items.map((h: any) => h.version)).toEqual([3, 2, 1]);
  });
});
