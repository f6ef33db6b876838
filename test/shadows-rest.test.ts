import { describe, expect, it } from 'vitest';
import { shadowDocumentSchema } from '../device-sdk/protocol/shadow.js';
import { shadowDevice } from './helpers/shadows.js';
import { startBaton, type ApiResponse } from './helpers/service.js';

const shadowPath = (id: string, name?: string) => `/api/v1/devices/${id}/shadow${name ? `?name=${name}` : ''}`;

const expectProblem = (res: ApiResponse<any>, status: number, code: string) => {
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect([res.status, res.body.code, res.body.status]).toEqual([status, code, status]);
};

const nested = (levels: number): unknown => (levels === 0 ? 1 : { n: nested(levels - 1) });

describe('shadows over REST', () => {
  it('reads, patches desired state and deletes, answering documents', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    expectProblem(await baton.api('GET', shadowPath('dev-1')), 404, 'NotFound');

    const patched = await baton.api('PATCH', shadowPath('dev-1'), { state: { desired: { led: 'on', cfg: { rate: 5 } } }, clientToken: 'op-1' });
    expect(patched.status).toBe(200);
    expect(shadowDocumentSchema.parse(patched.body)).toMatchObject({
      state: { desired: { led: 'on', cfg: { rate: 5 } }, reported: {}, delta: { led: 'on', cfg: { rate: 5 } } },
      version: 1,
      clientToken: 'op-1',
    });

    const merged = await baton.api('PATCH', shadowPath('dev-1'), { state: { desired: { cfg: { rate: null } } }, version: 1 });
    expect(merged.body).toMatchObject({ state: { desired: { led: 'on' } }, version: 2 });
    expect((await baton.api('GET', shadowPath('dev-1'))).body).toEqual(merged.body);

    const deleted = await baton.api('DELETE', shadowPath('dev-1'));
    expect([deleted.status, deleted.body.version]).toEqual([200, 2]);
    expectProblem(await baton.api('GET', shadowPath('dev-1')), 404, 'NotFound');
    expectProblem(await baton.api('DELETE', shadowPath('dev-1')), 404, 'NotFound');
    expect((await baton.api('PATCH', shadowPath('dev-1'), { state: { desired: { x: 1 } } })).body.version).toBe(3);
  });

  it('answers every rejection as problem+json with its code', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    await baton.api('PATCH', shadowPath('dev-1'), { state: { desired: { a: 1 } } });
    const cases: Array<[string, string, unknown, number, string]> = [
      ['PATCH', shadowPath('dev-1'), { state: { desired: { a: 2 } }, version: 9 }, 409, 'VersionConflict'],
      ['PATCH', shadowPath('dev-1'), { state: { reported: { a: 2 } } }, 400, 'InvalidRequest'],
      ['PATCH', shadowPath('dev-1'), { state: { desired: { a: 2 }, reported: { a: 2 } } }, 400, 'InvalidRequest'],
      ['PATCH', shadowPath('dev-1'), { state: { desired: 5 } }, 400, 'InvalidRequest'],
      ['PATCH', shadowPath('dev-1'), { state: { desired: { a: 1 } }, clientToken: 'x'.repeat(65) }, 400, 'InvalidRequest'],
      ['PATCH', shadowPath('dev-1', 'bad.name'), { state: { desired: { a: 1 } } }, 400, 'InvalidRequest'],
      ['PATCH', shadowPath('dev-1'), '{"state": {"desired": ', 400, 'InvalidJSON'],
      ['PATCH', shadowPath('dev-1'), { state: { desired: nested(7) } }, 400, 'TooDeep'],
      ['PATCH', shadowPath('dev-1'), `{"state":{"desired":${'{"n":'.repeat(5000)}1${'}'.repeat(5000)}}}`, 400, 'TooDeep'],
      ['PATCH', shadowPath('dev-1'), { state: { desired: { big: 'x'.repeat(9000) } } }, 413, 'PayloadTooLarge'],
      ['PATCH', shadowPath('dev-1'), { state: { desired: { big: 'x'.repeat(200_000) } } }, 413, 'PayloadTooLarge'],
      ['PATCH', shadowPath('nobody'), { state: { desired: { a: 1 } } }, 404, 'NotFound'],
      ['GET', shadowPath('nobody'), undefined, 404, 'NotFound'],
      ['GET', '/api/v1/devices/nobody/shadows', undefined, 404, 'NotFound'],
      ['GET', '/api/v1/devices/nobody/shadow/history', undefined, 404, 'NotFound'],
    ];
    for (const [method, path, body, status, code] of cases) {
      expectProblem(await baton.api(method, path, body), status, code);
    }
    expect((await baton.api('GET', shadowPath('dev-1'))).body.version).toBe(1);
  });

  it('requires a token, and a writing role to change a shadow', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    expectProblem(await baton.api('GET', shadowPath('dev-1'), undefined, 'wrong'), 401, 'Unauthorized');
    const viewer = (await baton.api('POST', '/api/v1/tokens', { name: 'v', role: 'viewer' })).body.token as string;
    expectProblem(await baton.api('PATCH', shadowPath('dev-1'), { state: { desired: { a: 1 } } }, viewer), 403, 'Forbidden');
    expectProblem(await baton.api('DELETE', shadowPath('dev-1'), undefined, viewer), 403, 'Forbidden');
  });

  it('keeps the last N versions as history, newest first, deletes included', async () => {
    const baton = await startBaton({ shadowHistory: 5 });
    const dev = await shadowDevice(baton, 'dev-1');
    for (let i = 1; i <= 7; i++) await dev.request('update', { state: { reported: { i } }, clientToken: `t${i}` });
    await baton.api('PATCH', shadowPath('dev-1'), { state: { desired: { i: 0 } } });
    await baton.api('DELETE', shadowPath('dev-1'));

    const history = await baton.api('GET', '/api/v1/devices/dev-1/shadow/history');
    expect(history.status).toBe(200);
    expect(history.body.items.map((h: any) => `${h.version}/${h.kind}/${h.source}`)).toEqual([
      '8/delete/operator', '8/update/operator', '7/update/device', '6/update/device', '5/update/device', '4/update/device',
    ]);
    expect(history.body.items[2]).toMatchObject({ clientToken: 't7', patch: { reported: { i: 7 } }, snapshot: { version: 7, state: { reported: { i: 7 } } } });
    expect((await baton.api('GET', '/api/v1/devices/dev-1/shadow/history?limit=2')).body.items).toHaveLength(2);
    expect((await baton.api('GET', '/api/v1/devices/dev-1/shadow/history?name=other')).body.items).toEqual([]);
  });

  it('lists the live shadows of a device', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    for (const name of [undefined, 'b', 'a']) await baton.api('PATCH', shadowPath('dev-1', name), { state: { desired: { x: 1 } } });
    await baton.api('DELETE', shadowPath('dev-1', 'b'));
    const list = await baton.api('GET', '/api/v1/devices/dev-1/shadows');
    expect(list.body.items.map((s: any) => [s.name, s.version])).toEqual([[null, 1], ['a', 1]]);
  });

  it('documents the shadow routes in the OpenAPI description', async () => {
    const baton = await startBaton();
    const spec = await baton.api('GET', '/openapi.json');
    expect(Object.keys(spec.body.paths).filter((p) => p.includes('shadow')).sort()).toEqual([
      '/api/v1/devices/{id}/shadow', '/api/v1/devices/{id}/shadow/history', '/api/v1/devices/{id}/shadows',
    ]);
  });
});
