import { describe, expect, it } from 'vitest';
import { eventually, nextMessage, startBaton, ADMIN_TOKEN } from './helpers/service.js';

describe('telemetry', () => {
  it('stores telemetry with a server timestamp and reads it back newest first, by stream, with pagination', async () => {
    const baton = await startBaton();
    const device = await baton.connectDevice(await baton.createDevice('dev-1'));
    for (let i = 0; i < 5; i++) await device.publishAsync('devices/dev-1/telemetry', JSON.stringify({ i }), { qos: 1 });
    await device.publishAsync('devices/dev-1/telemetry/power', JSON.stringify({ watts: 3 }), { qos: 1 });

    const all = await baton.api('GET', '/api/v1/devices/dev-1/telemetry?limit=4');
    expect(all.status).toBe(200);
    expect(all.body.items.map((r: any) => r.data)).toEqual([{ watts: 3 }, { i: 4 }, { i: 3 }, { i: 2 }]);
    expect(all.body.items[0].stream).toBe('power');
    expect(Date.parse(all.body.items[0].receivedAt)).not.toBeNaN();
    const next = await baton.api('GET', `/api/v1/devices/dev-1/telemetry?limit=4&cursor=${all.body.nextCursor}`);
    expect(next.body.items.map((r: any) => r.data)).toEqual([{ i: 1 }, { i: 0 }]);
    expect(next.body.nextCursor).toBeNull();

    const power = await baton.api('GET', '/api/v1/devices/dev-1/telemetry?stream=power');
    expect(power.body.items.map((r: any) => r.data)).toEqual([{ watts: 3 }]);
    const defaultStream = await baton.api('GET', '/api/v1/devices/dev-1/telemetry?stream=&limit=1');
    expect(defaultStream.body.items.map((r: any) => r.data)).toEqual([{ i: 4 }]);
  });

  it('filters by time with ISO 8601 or epoch milliseconds', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const baton = await startBaton({}, { clock: () => now });
    const device = await baton.connectDevice(await baton.createDevice('dev-1'));
    for (const [i, at] of ['2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z', '2026-01-01T02:00:00Z'].entries()) {
      now = Date.parse(at);
      await device.publishAsync('devices/dev-1/telemetry', JSON.stringify({ i }), { qos: 1 });
    }
    const iso = await baton.api('GET', '/api/v1/devices/dev-1/telemetry?from=2026-01-01T00:30:00Z&to=2026-01-01T01:30:00Z');
    expect(iso.body.items.map((r: any) => r.data)).toEqual([{ i: 1 }]);
    const epoch = await baton.api('GET', `/api/v1/devices/dev-1/telemetry?from=${Date.parse('2026-01-01T01:00:00Z')}`);
    expect(epoch.body.items.map((r: any) => r.data)).toEqual([{ i: 2 }, { i: 1 }]);
    const bad = await baton.api('GET', '/api/v1/devices/dev-1/telemetry?from=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('InvalidRequest');
    expect(Object.keys(bad.body.fields)).toEqual(['querystring.from']);
  });

  it.each([
    ['invalid JSON', '{"unterminated', 'InvalidJSON'],
    ['a JSON array', '[1,2]', 'InvalidJSON'],
    ['a JSON string', '"hello"', 'InvalidJSON'],
    ['a JSON number', '42', 'InvalidJSON'],
    ['an oversize payload', JSON.stringify({ blob: 'x'.repeat(2048) }), 'PayloadTooLarge'],
  ])('drops %s, reports %s on devices/{id}/errors and keeps the connection', async (_name, payload, code) => {
    const baton = await startBaton({ telemetryMaxBytes: 1024 });
    const device = await baton.connectDevice(await baton.createDevice('dev-1'));
    const integration = await baton.connect({ clientId: 'int', username: 'api', password: ADMIN_TOKEN });
    await integration.subscribeAsync('devices/+/telemetry/#', { qos: 1 });
    const forwarded: string[] = [];
    integration.on('message', (_t, p) => forwarded.push(p.toString()));
    await device.subscribeAsync('devices/dev-1/errors', { qos: 1 });

    const error = nextMessage(device, (t) => t === 'devices/dev-1/errors');
    await device.publishAsync('devices/dev-1/telemetry', payload, { qos: 1 });
    expect((await error).json).toMatchObject({ code, topic: 'devices/dev-1/telemetry' });

    // Still connected: the next good message is stored and forwarded.
    const good = nextMessage(integration, (t) => t === 'devices/dev-1/telemetry');
    await device.publishAsync('devices/dev-1/telemetry', JSON.stringify({ ok: true }), { qos: 1 });
    await good;
    expect(forwarded).toEqual([JSON.stringify({ ok: true })]);
    const stored = await baton.api('GET', '/api/v1/devices/dev-1/telemetry');
    expect(stored.body.items.map((r: any) => r.data)).toEqual([{ ok: true }]);
    const metrics = await baton.api('GET', '/metrics');
    expect(metrics.body).toContain(`baton_dropped_payloads_total{reason="${code}"} 1`);
  });

  it('validates health reports and keeps the latest and a bounded history', async () => {
    const baton = await startBaton({ healthHistory: 3 });
    const device = await baton.connectDevice(await baton.createDevice('dev-1'));
    await device.subscribeAsync('devices/dev-1/errors', { qos: 1 });
    for (let i = 1; i <= 5; i++) {
      await device.publishAsync('devices/dev-1/health', JSON.stringify({ uptimeS: i, firmwareVersion: '1.0.0' }), { qos: 1 });
    }
    const error = nextMessage(device, (t) => t === 'devices/dev-1/errors');
    await device.publishAsync('devices/dev-1/health', JSON.stringify({ cpuPct: 150 }), { qos: 1 });
    expect((await error).json.code).toBe('InvalidRequest');

    const history = await baton.api('GET', '/api/v1/devices/dev-1/health');
    expect(history.body.items.map((h: any) => h.report.uptimeS)).toEqual([5, 4, 3]);
    const detail = await baton.api('GET', '/api/v1/devices/dev-1');
    expect(detail.body.health.report).toEqual({ uptimeS: 5, firmwareVersion: '1.0.0' });
    const summary = await baton.api('GET', '/api/v1/fleet/summary');
    expect(summary.body.byFirmwareVersion).toEqual({ '1.0.0': 1, '(unknown)': 0 });
  });

  it('prunes telemetry by age and by rows per device', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const baton = await startBaton({ telemetryRetentionDays: 1, telemetryMaxRowsPerDevice: 2 }, { clock: () => now });
    const device = await baton.connectDevice(await baton.createDevice('dev-1'));
    await device.publishAsync('devices/dev-1/telemetry', JSON.stringify({ old: true }), { qos: 1 });
    now += 2 * 86_400_000;
    for (let i = 0; i < 3; i++) await device.publishAsync('devices/dev-1/telemetry', JSON.stringify({ i }), { qos: 1 });
    const removed = await baton.service.store.telemetry.prune({ maxAgeMs: 86_400_000, maxRowsPerDevice: 2 }, new Date(now));
    expect(removed).toBe(2);
    const rows = await eventually(async () => (await baton.api('GET', '/api/v1/devices/dev-1/telemetry')).body.items);
    expect(rows.map((r: any) => r.data)).toEqual([{ i: 2 }, { i: 1 }]);
  });
});
