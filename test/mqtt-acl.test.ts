import { describe, expect, it } from 'vitest';
import { nextMessage, startBaton, subscribeGranted, ADMIN_TOKEN , whenClosed } from './helpers/service.js';

describe('MQTT topic ACL over real connections', () => {
  it('grants a device its own reply topics and refuses another device\'s with SUBACK 0x80', async () => {
    const baton = await startBaton();
    const a = await baton.connectDevice(await baton.createDevice('dev-a'));
    await baton.createDevice('dev-b');
    const granted = await subscribeGranted(a, ['devices/dev-a/shadow/#', 'devices/dev-b/shadow/#', 'devices/+/errors', '#', 'devices/dev-a/errors']);
    expect(granted).toEqual([1, 128, 128, 128, 1]);
    const metrics = await baton.api('GET', '/metrics');
    expect(metrics.body).toMatch(/baton_acl_denials_total\{action="subscribe"\} 3/);
  });

  it.each([
    ["another device's telemetry", 'devices/dev-b/telemetry'],
    ['its own reply topic', 'devices/dev-a/shadow/update/accepted'],
    ['its own errors topic', 'devices/dev-a/errors'],
    ['a fleet event', 'fleet/events/presence/dev-a'],
    ['a topic outside the protocol', 'random/topic'],
  ])('closes the connection of a device publishing to %s [MQTT-3.3.5-2]', async (_name, topic) => {
    const baton = await startBaton();
    const a = await baton.connectDevice(await baton.createDevice('dev-a'));
    const b = await baton.connectDevice(await baton.createDevice('dev-b'), { clientId: 'dev-b' });
    await b.subscribeAsync('devices/dev-b/#', { qos: 0 });
    let bReceived = 0;
    b.on('message', () => (bReceived += 1));
    const closed = whenClosed(a);
    a.publish(topic, JSON.stringify({ x: 1 }), { qos: 1 });
    await closed;
    const metrics = await baton.api('GET', '/metrics');
    expect(metrics.body).toMatch(/baton_acl_denials_total\{action="publish"\} 1/);
    expect(bReceived).toBe(0);
  });

  it('lets an integration read telemetry, health and fleet events, and nothing else, and publish nothing', async () => {
    const baton = await startBaton();
    const device = await baton.connectDevice(await baton.createDevice('dev-a'));
    const integration = await baton.connect({ clientId: 'int', username: 'api', password: ADMIN_TOKEN });
    const granted = await subscribeGranted(integration, ['devices/+/telemetry/#', 'devices/+/health', 'fleet/events/#', 'devices/+/shadow/#', '#', 'devices/dev-a/errors']);
    expect(granted).toEqual([1, 1, 1, 128, 128, 128]);
    const telemetry = nextMessage(integration, (t) => t.startsWith('devices/dev-a/telemetry'));
    await device.publishAsync('devices/dev-a/telemetry/env', JSON.stringify({ temp: 21 }), { qos: 1 });
    expect((await telemetry).json).toEqual({ temp: 21 });
    const health = nextMessage(integration, (t) => t === 'devices/dev-a/health');
    await device.publishAsync('devices/dev-a/health', JSON.stringify({ batteryPct: 80 }), { qos: 1 });
    expect((await health).json).toEqual({ batteryPct: 80 });

    const closed = whenClosed(integration);
    integration.publish('devices/dev-a/telemetry', '{}', { qos: 1 });
    await closed;
  });

  it('caps delivery at the subscription QoS for wildcard subscriptions (aedes #1074)', async () => {
    const baton = await startBaton({ allowAnonymous: true });
    const sub = await baton.connect({ clientId: 'sub' });
    await sub.subscribeAsync('lab/+/temp', { qos: 1 });
    const pub = await baton.connect({ clientId: 'pub' });
    const delivered = new Promise<number>((resolve) => sub.once('packetreceive', (p) => p.cmd === 'publish' && resolve(p.qos)));
    await pub.publishAsync('lab/room1/temp', '21', { qos: 2 });
    expect(await delivered).toBe(1);
  });

  it('with anonymous access on, grants # but never delivers the reserved namespaces', async () => {
    const baton = await startBaton({ allowAnonymous: true });
    const anon = await baton.connect({ clientId: 'anon' });
    const [grant] = await anon.subscribeAsync('#', { qos: 0 });
    expect(grant!.qos).toBe(0);
    const seen: string[] = [];
    anon.on('message', (t) => seen.push(t));
    const device = await baton.connectDevice(await baton.createDevice('dev-a'));
    await device.publishAsync('devices/dev-a/telemetry', JSON.stringify({ secret: 1 }), { qos: 1 });
    const other = await baton.connect({ clientId: 'anon-2' });
    const got = nextMessage(anon, (t) => t === 'sandbox/hello');
    await other.publishAsync('sandbox/hello', 'hi', { qos: 1 });
    await got;
    expect(seen.filter((t) => !t.startsWith('sandbox/'))).toEqual([]);
  });

  it('refuses anonymous publishes into the reserved namespaces', async () => {
    const baton = await startBaton({ allowAnonymous: true });
    const anon = await baton.connect({ clientId: 'anon' });
    const closed = whenClosed(anon);
    anon.publish('devices/dev-a/telemetry', '{}', { qos: 1 });
    await closed;
  });
});
