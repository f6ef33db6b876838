import { describe, expect, it } from 'vitest';
import { shadowDeltaSchema, shadowDocumentSchema, shadowDocumentsSchema, shadowFleetEventSchema, shadowRejectedSchema, shadowUpdateAcceptedSchema } from '../device-sdk/protocol/shadow.js';
import { collect, shadowDevice } from './helpers/shadows.js';
import { ADMIN_TOKEN, eventually, nextMessage, startBaton, subscribeGranted, whenClosed } from './helpers/service.js';

const nested = (levels: number): unknown => (levels === 0 ? 1 : { n: nested(levels - 1) });

describe('shadows over MQTT', () => {
  it('round-trips get, update and delete with the clientToken echoed', async () => {
    const baton = await startBaton();
    const dev = await shadowDevice(baton, 'dev-1');

    expect(await dev.request('get', { clientToken: 'g0' })).toMatchObject({ outcome: 'rejected', body: { code: 'NotFound', clientToken: 'g0' } });

    const update = await dev.request('update', { state: { reported: { fw: '1.2.0', net: { rssi: -70 } } }, clientToken: 'u1' });
    expect(update.outcome).toBe('accepted');
    expect(shadowUpdateAcceptedSchema.parse(update.body)).toMatchObject({ state: { reported: { fw: '1.2.0', net: { rssi: -70 } } }, version: 1, clientToken: 'u1' });

    const got = await dev.request('get', { clientToken: 'g1' });
    expect(got.outcome).toBe('accepted');
    expect(shadowDocumentSchema.parse(got.body)).toMatchObject({ state: { desired: {}, reported: { fw: '1.2.0', net: { rssi: -70 } } }, version: 1, clientToken: 'g1' });
    expect(got.body.state).not.toHaveProperty('delta');
    expect(got.body.metadata.reported.net.rssi.timestamp).toBeTypeOf('number');

    // An empty payload is a request without a token.
    expect((await dev.request('get', '')).body).not.toHaveProperty('clientToken');

    const deleted = await dev.request('delete', { clientToken: 'd1' });
    expect(deleted).toMatchObject({ outcome: 'accepted', body: { version: 1, clientToken: 'd1' } });
    expect((await dev.request('get')).body.code).toBe('NotFound');
    expect((await dev.request('delete', { clientToken: 'd2' })).body).toMatchObject({ code: 'NotFound', clientToken: 'd2' });
  });

  it('keeps the version counter across a delete: the next update is the old version + 1', async () => {
    const baton = await startBaton();
    const dev = await shadowDevice(baton, 'dev-1');
    for (let i = 1; i <= 3; i++) await dev.request('update', { state: { reported: { i } } });
    expect((await dev.request('delete')).body.version).toBe(3);
    expect((await dev.request('update', { state: { reported: { i: 0 } }, version: 2 })).body.code).toBe('VersionConflict');
    const recreated = await dev.request('update', { state: { reported: { again: true } }, version: 3 });
    expect(recreated).toMatchObject({ outcome: 'accepted', body: { version: 4 } });
    expect((await dev.request('get')).body.state.reported).toEqual({ again: true });
  });

  it('keeps named shadows apart from the classic one', async () => {
    const baton = await startBaton();
    const dev = await shadowDevice(baton, 'dev-1');
    await dev.request('update', { state: { reported: { a: 1 } } });
    const named = await dev.request('update', { state: { reported: { b: 2 } } }, 'config:v2');
    expect(named.body.version).toBe(1);
    expect((await dev.request('get', '', 'config:v2')).body.state.reported).toEqual({ b: 2 });
    expect((await dev.request('get')).body.state.reported).toEqual({ a: 1 });
    expect((await baton.api('GET', '/api/v1/devices/dev-1/shadows')).body.items.map((s: any) => s.name)).toEqual([null, 'config:v2']);
  });

  // [name, payload, code, whether the token is echoed (only when the payload parsed and the token is valid)]
  it.each<[string, unknown, string, boolean]>([
    ['a state over the size limit', { state: { reported: { big: 'x'.repeat(9000) } }, clientToken: 'tok' }, 'PayloadTooLarge', true],
    ['a payload over the request limit', { state: { reported: { big: 'x'.repeat(200_000) } }, clientToken: 'tok' }, 'PayloadTooLarge', false],
    ['state nested deeper than 6', { state: { reported: nested(7) }, clientToken: 'tok' }, 'TooDeep', true],
    ['a payload that is not JSON', '{"state": ', 'InvalidJSON', false],
    ['a payload that is not UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 'InvalidJSON', false],
    ['state with neither section', { state: {}, clientToken: 'tok' }, 'InvalidRequest', true],
    ['a section that is not an object', { state: { reported: 3 }, clientToken: 'tok' }, 'InvalidRequest', true],
    ['an unknown top-level key', { state: { reported: { a: 1 } }, extra: 1, clientToken: 'tok' }, 'InvalidRequest', true],
    ['a clientToken over 64 bytes', { state: { reported: { a: 1 } }, clientToken: 'x'.repeat(65) }, 'InvalidRequest', false],
    ['a __proto__ key', '{"state":{"reported":{"__proto__":{"x":1}}},"clientToken":"tok"}', 'InvalidRequest', true],
    ['a stale version', { state: { reported: { a: 1 } }, version: 7, clientToken: 'tok' }, 'VersionConflict', true],
  ])('rejects %s on update/rejected with its code', async (_name, payload, code, echoed) => {
    const baton = await startBaton();
    const dev = await shadowDevice(baton, 'dev-1');
    await dev.request('update', { state: { reported: { before: true } } });
    const reply = await dev.request('update', payload);
    expect(reply.outcome).toBe('rejected');
    const body = shadowRejectedSchema.parse(reply.body);
    expect([body.code, body.clientToken]).toEqual([code, echoed ? 'tok' : undefined]);
    // Nothing changed, and the connection is still up.
    expect((await dev.request('get')).body).toMatchObject({ version: 1, state: { reported: { before: true } } });
  });

  it.each([['get'], ['delete']] as const)('rejects a malformed %s request with InvalidRequest', async (op) => {
    const baton = await startBaton();
    const dev = await shadowDevice(baton, 'dev-1');
    expect((await dev.request(op, { clientToken: 'tok', state: {} })).body).toMatchObject({ code: 'InvalidRequest', clientToken: 'tok' });
    expect((await dev.request(op, 'nope')).body.code).toBe('InvalidJSON');
  });

  it('honours the configured limits', async () => {
    const baton = await startBaton({ shadowMaxStateBytes: 64, shadowMaxDepth: 2 });
    const dev = await shadowDevice(baton, 'dev-1');
    expect((await dev.request('update', { state: { reported: { s: 'x'.repeat(60) } } })).body.code).toBe('PayloadTooLarge');
    expect((await dev.request('update', { state: { reported: { a: { b: { c: 1 } } } } })).body.code).toBe('TooDeep');
    expect((await dev.request('update', { state: { reported: { a: { b: 1 } } } })).outcome).toBe('accepted');
  });

  it('publishes delta and documents at QoS 1 when an operator changes desired state over REST', async () => {
    const baton = await startBaton();
    const dev = await shadowDevice(baton, 'dev-1');
    await dev.request('update', { state: { reported: { led: 'off', fw: '1.0' } } });
    const qos: number[] = [];
    dev.client.on('packetreceive', (p) => p.cmd === 'publish' && qos.push(p.qos));
    const delta = nextMessage(dev.client, (t) => t === 'devices/dev-1/shadow/update/delta');
    const documents = nextMessage(dev.client, (t) => t === 'devices/dev-1/shadow/update/documents');
    const res = await baton.api('PATCH', '/api/v1/devices/dev-1/shadow', { state: { desired: { led: 'on', fw: '1.0' } } });
    expect(res.status).toBe(200);
    expect(shadowDeltaSchema.parse((await delta).json)).toMatchObject({ state: { led: 'on' }, version: 2 });
    const docs = shadowDocumentsSchema.parse((await documents).json);
    expect(docs.previous?.version).toBe(1);
    expect(docs.current).toMatchObject({ version: 2, state: { desired: { led: 'on', fw: '1.0' } } });
    expect(qos).toEqual([1, 1]);

    // The device applies it: no delta is left, and none is sent.
    const seen = collect(dev.client, (t) => t.endsWith('/update/delta'));
    await dev.request('update', { state: { reported: { led: 'on' } } });
    expect((await dev.request('get')).body.state).not.toHaveProperty('delta');
    expect(seen).toEqual([]);
  });

  it('sends integrations fleet/events/shadow/{id} for updates and deletes', async () => {
    const baton = await startBaton();
    const dev = await shadowDevice(baton, 'dev-1');
    const integration = await baton.connect({ clientId: 'int', username: 'api', password: ADMIN_TOKEN });
    expect(await subscribeGranted(integration, ['fleet/events/shadow/+'])).toEqual([1]);
    const events = collect(integration, (t) => t === 'fleet/events/shadow/dev-1');
    await dev.request('update', { state: { reported: { a: 1 } } }, 'cfg');
    await baton.api('PATCH', '/api/v1/devices/dev-1/shadow', { state: { desired: { b: 2 } } });
    await dev.request('delete', '', 'cfg');
    await eventually(() => (events.length === 3 ? true : undefined));
    const parsed = events.map((e) => shadowFleetEventSchema.parse(e.json));
    expect(parsed.map((e) => [e.shadowName, e.previous?.version ?? null, e.current?.version ?? null])).toEqual([
      ['cfg', null, 1],
      [null, null, 1],
      ['cfg', 1, null],
    ]);
    expect(parsed[1]!.current?.state.desired).toEqual({ b: 2 });
  });

  describe('ACL: a device reaches its own shadows only', () => {
    it("refuses a subscription to another device's shadow with SUBACK 0x80", async () => {
      const baton = await startBaton();
      await baton.createDevice('dev-b');
      const a = await shadowDevice(baton, 'dev-a');
      expect(await subscribeGranted(a.client, ['devices/dev-b/shadow/#', 'devices/dev-b/shadow/name/cfg/get/accepted', 'devices/+/shadow/#'])).toEqual([128, 128, 128]);
    });

    it.each(['update', 'get', 'delete', 'name/cfg/update'])("closes the connection of a device publishing to another device's shadow/%s", async (op) => {
      const baton = await startBaton();
      const b = await shadowDevice(baton, 'dev-b');
      await b.request('update', { state: { reported: { mine: true } } });
      const a = await shadowDevice(baton, 'dev-a');
      const closed = whenClosed(a.client);
      a.client.publish(`devices/dev-b/shadow/${op}`, JSON.stringify({ state: { reported: { mine: false } } }), { qos: 1 });
      await closed;
      expect((await b.request('get')).body).toMatchObject({ version: 1, state: { reported: { mine: true } } });
    });
  });
});
