import { describe, expect, it } from 'vitest';
import { startBaton } from './helpers/service.js';

const expectProblem = (res: { status: number; headers: Headers; body: any }, status: number, code: string) => {
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, type: `https://baton.dev/problems/${code}` });
  expect(res.status).toBe(status);
};

describe('admin REST API', () => {
  it('answers bad input with RFC 9457 problems and stable codes, never a 500', async () => {
    const baton = await startBaton();
    const cases: Array<[string, string, unknown, number, string]> = [
      ['POST', '/api/v1/devices', { id: 'a/b' }, 400, 'InvalidRequest'],
      ['POST', '/api/v1/devices', { id: 'x'.repeat(129) }, 400, 'InvalidRequest'],
      ['POST', '/api/v1/devices', { id: 'ok', tags: 'not-an-array' }, 400, 'InvalidRequest'],
      ['POST', '/api/v1/devices', { id: 'ok', unknown: 1 }, 400, 'InvalidRequest'],
      ['POST', '/api/v1/devices', '{"id": "broken', 400, 'InvalidJSON'],
      ['POST', '/api/v1/devices', { id: 'ok', site: 'nowhere' }, 400, 'InvalidRequest'],
      ['GET', '/api/v1/devices?limit=0', undefined, 400, 'InvalidRequest'],
      ['GET', '/api/v1/devices?status=sleeping', undefined, 400, 'InvalidRequest'],
      ['GET', '/api/v1/devices/missing', undefined, 404, 'NotFound'],
      ['PATCH', '/api/v1/devices/missing', { tags: [] }, 404, 'NotFound'],
      ['DELETE', '/api/v1/devices/missing', undefined, 404, 'NotFound'],
      ['POST', '/api/v1/sites', { id: 's1', uplinkBytesPerSec: -5 }, 400, 'InvalidRequest'],
      ['POST', '/api/v1/tokens', { name: 'x', role: 'superuser' }, 400, 'InvalidRequest'],
      ['GET', '/api/v1/nothing-here', undefined, 404, 'NotFound'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const res = await baton.api(method, path, body);
      expectProblem(res, status, code);
    }
    const fieldProblem = await baton.api('POST', '/api/v1/devices', { id: 'a/b', tags: [1] });
    expect(Object.keys(fieldProblem.body.fields).sort()).toEqual(['body.id', 'body.tags.0']);
  });

  it('refuses a duplicate device id with 409', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    expectProblem(await baton.api('POST', '/api/v1/devices', { id: 'dev-1' }), 409, 'Conflict');
  });

  it('enforces token roles on every route', async () => {
    const baton = await startBaton();
    const token = async (role: string) => (await baton.api('POST', '/api/v1/tokens', { name: role, role })).body.token as string;
    const [viewer, operator, integration] = [await token('viewer'), await token('operator'), await token('integration')];
    await baton.createDevice('dev-1');

    expectProblem(await baton.api('GET', '/api/v1/devices', undefined, 'not-a-valid-token-at-all-0123456789abcdef'), 401, 'Unauthorized');
    const noHeader = await fetch(`${baton.httpUrl}/api/v1/devices`);
    expect(noHeader.status).toBe(401);

    expect((await baton.api('GET', '/api/v1/devices', undefined, viewer)).status).toBe(200);
    expect((await baton.api('GET', '/api/v1/devices/dev-1/telemetry', undefined, integration)).status).toBe(200);
    expectProblem(await baton.api('POST', '/api/v1/devices', { id: 'x' }, viewer), 403, 'Forbidden');
    expectProblem(await baton.api('POST', '/api/v1/devices', { id: 'x' }, integration), 403, 'Forbidden');
    expectProblem(await baton.api('DELETE', '/api/v1/devices/dev-1', undefined, viewer), 403, 'Forbidden');
    expect((await baton.api('POST', '/api/v1/devices', { id: 'x' }, operator)).status).toBe(201);
    expectProblem(await baton.api('POST', '/api/v1/tokens', { name: 'y', role: 'admin' }, operator), 403, 'Forbidden');
    expectProblem(await baton.api('GET', '/api/v1/tokens', undefined, operator), 403, 'Forbidden');
  });

  it('creates, lists and revokes tokens; secrets are shown once and never listed', async () => {
    const baton = await startBaton();
    const created = await baton.api('POST', '/api/v1/tokens', { name: 'ci', role: 'operator' });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^btk_[A-Za-z0-9_-]{43}$/);
    const list = await baton.api('GET', '/api/v1/tokens');
    expect(list.body.items.map((t: any) => [t.name, t.role])).toEqual([['first-admin', 'admin'], ['ci', 'operator']]);
    expect(JSON.stringify(list.body)).not.toContain(created.body.token);
    expect((await baton.api('DELETE', `/api/v1/tokens/${created.body.id}`)).status).toBe(204);
    expectProblem(await baton.api('GET', '/api/v1/devices', undefined, created.body.token), 401, 'Unauthorized');
  });

  it('lists devices with filters and cursor pagination, and patches them', async () => {
    const baton = await startBaton();
    await baton.api('POST', '/api/v1/sites', { id: 'plant-1', uplinkBytesPerSec: 1_250_000 });
    for (let i = 0; i < 7; i++) {
      await baton.createDevice(`dev-${i}`, { deviceClass: i % 2 ? 'gw' : 'sensor', tags: i < 3 ? ['north'] : ['south'], site: 'plant-1' });
    }
    const ids = async (query: string) => {
      const out: string[] = [];
      let cursor: string | null = null;
      do {
        const res: any = await baton.api('GET', `/api/v1/devices?${query}${cursor ? `&cursor=${cursor}` : ''}`);
        out.push(...res.body.items.map((d: any) => d.id));
        cursor = res.body.nextCursor;
      } while (cursor);
      return out;
    };
    expect(await ids('limit=3')).toEqual(['dev-0', 'dev-1', 'dev-2', 'dev-3', 'dev-4', 'dev-5', 'dev-6']);
    expect(await ids('limit=2&tag=north')).toEqual(['dev-0', 'dev-1', 'dev-2']);
    expect(await ids('deviceClass=gw')).toEqual(['dev-1', 'dev-3', 'dev-5']);
    expect(await ids('site=plant-1&tag=south&deviceClass=sensor')).toEqual(['dev-4', 'dev-6']);
    expect(await ids('status=never-connected&limit=5')).toHaveLength(7);

    const patched = await baton.api('PATCH', '/api/v1/devices/dev-0', { tags: ['south', 'canary'], attributes: { rack: 4 }, deviceClass: null });
    expect(patched.body).toMatchObject({ tags: ['south', 'canary'], attributes: { rack: 4 }, deviceClass: null, site: 'plant-1' });
    expect(await ids('tag=canary')).toEqual(['dev-0']);
    const tagsOnly = await baton.api('PATCH', '/api/v1/devices/dev-0', { tags: ['south'] });
    expect(tagsOnly.status).toBe(200);
    expect(tagsOnly.body).toMatchObject({ tags: ['south'], attributes: { rack: 4 }, site: 'plant-1' });
    expect(await ids('tag=north')).toEqual(['dev-1', 'dev-2']);
  });

  it('manages sites', async () => {
    const baton = await startBaton();
    const created = await baton.api('POST', '/api/v1/sites', { id: 'plant-1', uplinkBytesPerSec: 1000, description: 'Line 1' });
    expect(created.status).toBe(201);
    expectProblem(await baton.api('POST', '/api/v1/sites', { id: 'plant-1', uplinkBytesPerSec: 1000 }), 409, 'Conflict');
    const patched = await baton.api('PATCH', '/api/v1/sites/plant-1', { uplinkBytesPerSec: 2000, timeZone: 'Europe/Berlin' });
    expect(patched.body).toMatchObject({ id: 'plant-1', uplinkBytesPerSec: 2000, description: 'Line 1', timeZone: 'Europe/Berlin' });
    expect((await baton.api('GET', '/api/v1/sites')).body.items).toHaveLength(1);
    expectProblem(await baton.api('PATCH', '/api/v1/sites/none', { uplinkBytesPerSec: 1 }), 404, 'NotFound');
  });

  it('summarises the fleet by status, class, firmware and site', async () => {
    const baton = await startBaton();
    await baton.api('POST', '/api/v1/sites', { id: 's1', uplinkBytesPerSec: 1000 });
    const a = await baton.createDevice('a', { deviceClass: 'gw', site: 's1' });
    await baton.createDevice('b', { deviceClass: 'gw' });
    const c = await baton.createDevice('c', { deviceClass: 'sensor' });
    const ca = await baton.connectDevice(a);
    await ca.publishAsync('devices/a/health', JSON.stringify({ firmwareVersion: '2.0.0' }), { qos: 1 });
    const cc = await baton.connectDevice(c);
    await cc.endAsync();
    const summary = await baton.api('GET', '/api/v1/fleet/summary');
    expect(summary.body).toEqual({
      total: 3,
      byStatus: { online: 1, stale: 0, offline: 1, 'never-connected': 1, pending: 0 },
      byDeviceClass: { gw: 2, sensor: 1 },
      byFirmwareVersion: { '2.0.0': 1, '(unknown)': 2 },
      bySite: { s1: 1, '(none)': 2 },
    });
  });

  it('serves the OpenAPI document, interactive docs, health and metrics', async () => {
    const baton = await startBaton();
    const openapi = await baton.api('GET', '/openapi.json');
    expect(openapi.body.openapi).toMatch(/^3\./);
    expect(Object.keys(openapi.body.paths)).toEqual(expect.arrayContaining(['/api/v1/devices', '/api/v1/devices/{id}', '/api/v1/sites', '/api/v1/tokens', '/api/v1/fleet/summary']));
    expect((await fetch(`${baton.httpUrl}/docs`)).status).toBe(200);
    expect((await baton.api('GET', '/healthz')).body).toEqual({ status: 'ok' });
    const metrics = await baton.api('GET', '/metrics');
    for (const name of ['baton_connected_devices', 'baton_connects_total', 'baton_auth_failures_total', 'baton_messages_in_total', 'baton_acl_denials_total', 'baton_dropped_payloads_total', 'baton_store_batch_size', 'baton_store_commit_seconds']) {
      expect(metrics.body).toContain(name);
    }
  });

  it('answers /healthz with 503 once the service is stopping', async () => {
    const baton = await startBaton();
    expect(baton.service.ready()).toBe(true);
    await baton.stop();
    expect(baton.service.ready()).toBe(false);
  });
});
