import { describe, expect, it } from 'vitest';
import { eventually, nextMessage, startBaton, ADMIN_TOKEN } from './helpers/service.js';

describe('presence and status', () => {
  it('goes never-connected → online → stale (silent for 3 × intervalS, pings do not count) → online → offline', async () => {
    let now = Date.parse('2026-03-01T00:00:00Z');
    const baton = await startBaton({}, { clock: () => now });
    const device = await baton.createDevice('dev-1');
    const status = async () => (await baton.api('GET', '/api/v1/devices/dev-1')).body.status;
    expect(await status()).toBe('never-connected');

    const watcher = await baton.connect({ clientId: 'int', username: 'api', password: ADMIN_TOKEN });
    await watcher.subscribeAsync('fleet/events/presence/#', { qos: 1 });
    const connected = nextMessage(watcher, (t) => t === 'fleet/events/presence/dev-1');
    const client = await baton.connectDevice(device, { keepalive: 1 });
    expect((await connected).json).toMatchObject({ deviceId: 'dev-1', event: 'connected', status: 'online', transport: 'tcp', remoteAddress: '127.0.0.1' });
    await client.publishAsync('devices/dev-1/health', JSON.stringify({ intervalS: 1 }), { qos: 1 });
    expect(await status()).toBe('online');

    const stale = nextMessage(watcher, (t) => t === 'fleet/events/presence/dev-1');
    now += 3_001; // keepalive PINGREQs keep flowing on the real clock; they are not activity
    expect(await status()).toBe('stale');
    expect((await stale).json).toMatchObject({ event: 'stale', status: 'stale' });
    expect((await baton.api('GET', '/api/v1/devices?status=stale')).body.items.map((d: any) => d.id)).toEqual(['dev-1']);
    expect((await baton.api('GET', '/api/v1/devices?status=online')).body.items).toEqual([]);

    const active = nextMessage(watcher, (t) => t === 'fleet/events/presence/dev-1');
    await client.publishAsync('devices/dev-1/telemetry', '{}', { qos: 1 });
    expect((await active).json).toMatchObject({ event: 'active', status: 'online' });

    const gone = nextMessage(watcher, (t) => t === 'fleet/events/presence/dev-1');
    await client.endAsync();
    expect((await gone).json).toMatchObject({ event: 'disconnected', status: 'offline', reason: 'client-disconnect' });
    expect(await status()).toBe('offline');
    expect((await baton.api('GET', '/api/v1/devices?status=offline')).body.items.map((d: any) => d.id)).toEqual(['dev-1']);
  });

  it('records every connect and disconnect with time, address, transport and reason', async () => {
    const baton = await startBaton();
    const device = await baton.createDevice('dev-1');
    const first = await baton.connectDevice(device);
    first.stream.destroy(); // connection lost without DISCONNECT
    await eventually(async () => ((await baton.service.store.connections.recent('dev-1', 5)).length === 2 ? true : undefined));
    const second = await baton.connectDevice(device);
    await second.endAsync();
    const log = await eventually(async () => {
      const rows = await baton.service.store.connections.recent('dev-1', 10);
      return rows.length === 4 ? rows : undefined;
    });
    expect(log.map((r) => [r.event, r.reason, r.transport, r.remoteAddress])).toEqual([
      ['disconnected', 'client-disconnect', 'tcp', '127.0.0.1'],
      ['connected', null, 'tcp', '127.0.0.1'],
      ['disconnected', 'connection-lost', 'tcp', '127.0.0.1'],
      ['connected', null, 'tcp', '127.0.0.1'],
    ]);
    const detail = await baton.api('GET', '/api/v1/devices/dev-1');
    expect(detail.body).toMatchObject({ status: 'offline', connection: { event: 'disconnected', reason: 'client-disconnect' } });
    expect(detail.body.firstConnectedAt).not.toBeNull();
    expect(detail.body.lastSeenAt).not.toBeNull();
  });
});
