import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { connectPacket, rawConnack } from './helpers/raw-mqtt.js';
import { eventually, nextMessage, startBaton, ADMIN_TOKEN , whenClosed } from './helpers/service.js';

/** Connects and resolves with the CONNACK return code (0 = accepted). */
async function connackCode(url: string, options: mqtt.IClientOptions): Promise<number> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  return new Promise((resolve) => {
    client.once('connect', () => {
      client.end(true);
      resolve(0);
    });
    client.once('error', (err) => {
      client.end(true);
      resolve((err as { code?: number }).code ?? -1);
    });
  });
}

describe('MQTT authentication', () => {
  it('accepts a device with its id as client id and username and its secret as password', async () => {
    const baton = await startBaton();
    const device = await baton.createDevice('dev-1');
    expect(await connackCode(baton.mqttUrl, { clientId: 'dev-1', username: 'dev-1', password: device.secret })).toBe(0);
  });

  it.each([
    ['unknown device', { clientId: 'ghost', username: 'ghost', password: 'x'.repeat(43) }, 4],
    ['wrong secret', { clientId: 'dev-1', username: 'dev-1', password: 'wrong' }, 4],
    ['no password', { clientId: 'dev-1', username: 'dev-1' }, 4],
    ['client id differs from username', { clientId: 'dev-2', username: 'dev-1', password: 'SECRET' }, 5],
    ['no credentials (anonymous off)', { clientId: 'anon' }, 5],
    ['api user with a viewer token', { clientId: 'int', username: 'api', password: 'VIEWER' }, 5],
    ['api user with a wrong token', { clientId: 'int', username: 'api', password: 'y'.repeat(43) }, 4],
  ])('refuses %s with return code %s', async (_name, options, code) => {
    const baton = await startBaton();
    const device = await baton.createDevice('dev-1');
    const viewer = await baton.api('POST', '/api/v1/tokens', { name: 'v', role: 'viewer' });
    const withSecrets = Object.fromEntries(
      Object.entries(options).map(([k, v]) => [k, v === 'SECRET' ? device.secret : v === 'VIEWER' ? viewer.body.token : v]),
    );
    expect(await connackCode(baton.mqttUrl, withSecrets)).toBe(code);
    const metrics = await baton.api('GET', '/metrics');
    expect(metrics.body).toMatch(/baton_auth_failures_total\{reason="[a-z-]+"\} 1/);
  });

  it('refuses an empty client id with clean session 0 with return code 2, before checking credentials [MQTT-3.1.3-8]', async () => {
    const baton = await startBaton();
    const device = await baton.createDevice('dev-1');
    const good = { username: 'dev-1', password: device.secret };
    expect(await rawConnack(baton.mqttPort, connectPacket({ clientId: '', clean: false, ...good }))).toBe(2);
    expect(await rawConnack(baton.mqttPort, connectPacket({ clientId: '', clean: false, username: 'x', password: 'bad' }))).toBe(2);
    // With clean session 1 the empty id is legal; the credentials then decide (client id ≠ username).
    expect(await rawConnack(baton.mqttPort, connectPacket({ clientId: '', clean: true, ...good }))).toBe(5);
  });

  it('refuses a deleted device at once and drops its live connection', async () => {
    const baton = await startBaton();
    const device = await baton.createDevice('dev-1');
    const client = await baton.connectDevice(device);
    const closed = whenClosed(client);
    expect((await baton.api('DELETE', '/api/v1/devices/dev-1')).status).toBe(204);
    await closed;
    expect(await connackCode(baton.mqttUrl, { clientId: 'dev-1', username: 'dev-1', password: device.secret })).toBe(4);
  });

  it('refuses the old secret after rotation and accepts the new one', async () => {
    const baton = await startBaton();
    const device = await baton.createDevice('dev-1');
    const rotated = await baton.api('POST', '/api/v1/devices/dev-1/secret');
    expect(rotated.status).toBe(200);
    expect(await connackCode(baton.mqttUrl, { clientId: 'dev-1', username: 'dev-1', password: device.secret })).toBe(4);
    expect(await connackCode(baton.mqttUrl, { clientId: 'dev-1', username: 'dev-1', password: rotated.body.secret })).toBe(0);
  });

  it('accepts an integration with an integration or admin token', async () => {
    const baton = await startBaton();
    const integration = await baton.api('POST', '/api/v1/tokens', { name: 'grafana', role: 'integration' });
    expect(await connackCode(baton.mqttUrl, { clientId: 'int-1', username: 'api', password: integration.body.token })).toBe(0);
    expect(await connackCode(baton.mqttUrl, { clientId: 'int-2', username: 'api', password: ADMIN_TOKEN })).toBe(0);
  });

  it('lets a second connection with the same client id take the session over', async () => {
    const baton = await startBaton();
    const device = await baton.createDevice('dev-1');
    const watcher = await baton.connect({ clientId: 'w', username: 'api', password: ADMIN_TOKEN });
    await watcher.subscribeAsync('fleet/events/presence/+', { qos: 1 });
    const first = await baton.connectDevice(device);
    const firstClosed = whenClosed(first);
    await baton.connectDevice(device);
    await firstClosed;
    const detail = await eventually(async () => {
      const res = await baton.api('GET', '/api/v1/devices/dev-1');
      return res.body.status === 'online' && res.body.connection?.event === 'connected' ? res.body : undefined;
    });
    expect(detail.status).toBe('online');
    // The takeover is in the connection log, and presence stays online throughout.
    const events = baton.service.store.connections.recent('dev-1', 10);
    expect((await events).map((e) => e.reason).filter(Boolean)).toContain('taken-over');
    await expect(nextMessage(watcher, (t) => t === 'fleet/events/presence/dev-1', 300)).rejects.toThrow('timed out');
  });

  it('accepts MQTT over WebSocket at /mqtt', async () => {
    const baton = await startBaton();
    const device = await baton.createDevice('dev-ws');
    const client = await baton.connectDevice(device, { protocolVersion: 4 } as mqtt.IClientOptions & { url?: string });
    await client.endAsync();
    const ws = await baton.connect({ url: baton.wsUrl, clientId: 'dev-ws', username: 'dev-ws', password: device.secret });
    await ws.publishAsync('devices/dev-ws/telemetry', JSON.stringify({ over: 'ws' }), { qos: 1 });
    const rows = await baton.api('GET', '/api/v1/devices/dev-ws/telemetry');
    expect(rows.body.items.map((r: { data: unknown }) => r.data)).toEqual([{ over: 'ws' }]);
    const conn = await baton.api('GET', '/api/v1/devices/dev-ws');
    expect(conn.body.connection.transport).toBe('ws');
  });
});
