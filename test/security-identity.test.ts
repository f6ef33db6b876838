/**
 * Client ids belong to principals, and revoked credentials end their live sessions (issue 11).
 *
 * A client id names an MQTT session: a CONNECT with it closes the live connection of that id and
 * takes over its stored session [MQTT-3.1.4-2]. So a device's id is refused (CONNACK 2) to anyone
 * but the device, before aedes' takeover and session steps: the device's connection, its
 * subscriptions and its queue stay as they were. And each credential a session logged in with
 * (API token, device secret, claim credential, provisioning template) ends the session when it is
 * revoked, and is refused from then on.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { claimClientId } from '../device-sdk/certificates.js';
import { createCsr } from '../device-sdk/csr.js';
import { provision } from '../device-sdk/provision.js';
import { connectTls, generatedCredentials, metricValue, mqttsUrl, p256Key, tryConnect } from './helpers/certs.js';
import { nextMessage, startBaton, whenClosed, type TestBaton } from './helpers/service.js';

const delta = (deviceId: string) => `devices/${deviceId}/shadow/update/delta`;

/** Counts the closes a client sees from now on. */
function closesOf(client: MqttClient): { readonly count: number } {
  const seen = { count: 0 };
  client.on('close', () => seen.count++);
  return seen;
}

/** A device with a persistent session (clean session 0) subscribed to everything the broker sends it. */
async function persistentDevice(baton: TestBaton, device: { id: string; secret: string }): Promise<MqttClient> {
  const client = await baton.connectDevice(device, { clean: false });
  await client.subscribeAsync(`devices/${device.id}/#`, { qos: 1 });
  return client;
}

/** Sets desired state over REST: the device's delta is delivered live, or queued in its session. */
/** The connected dev-1 still gets its deltas and was never closed: the refused attempts left it alone. */
async function expectUndisturbed(baton: TestBaton, live: MqttClient, closes: { readonly count: number }): Promise<void> {
  const received = nextMessage(live, (t) => t === delta('dev-1'));
  await sendDelta(baton, 'dev-1', 'on');
  expect((await received).json.state).toEqual({ led: 'on' });
  expect(closes.count).toBe(0);
}

async function sendDelta(baton: TestBaton, deviceId: string, led: string): Promise<void> {
  const res = await baton.api('PATCH', `/api/v1/devices/${deviceId}/shadow`, { state: { desired: { led } } });
  expect(res.status).toBe(200);
}

/**
 * Reconnects the device with clean session 0 and resolves with CONNACK's session present flag and
 * the first delta it is sent (the listener is in place before CONNACK: a queued message may follow
 * it in the same read).
 */
function reconnectForQueued(baton: TestBaton, device: { id: string; secret: string }): Promise<{ sessionPresent: boolean; led: unknown }> {
  const client = mqtt.connect(baton.mqttUrl, { clientId: device.id, username: device.id, password: device.secret, clean: false, reconnectPeriod: 0 });
  const connack = new Promise<boolean>((resolve, reject) => {
    client.once('connect', (packet) => resolve(packet.sessionPresent));
    client.once('error', reject);
  });
  const message = nextMessage(client, (t) => t === delta(device.id));
  return Promise.all([connack, message])
    .then(([sessionPresent, { json }]) => ({ sessionPresent, led: json.state.led }))
    .finally(() => client.end(true));
}

async function integrationToken(baton: TestBaton, name = 'grafana'): Promise<{ id: string; token: string }> {
  const res = await baton.api('POST', '/api/v1/tokens', { name, role: 'integration' });
  expect(res.status).toBe(201);
  return { id: res.body.id, token: res.body.token };
}

/** A provisioning template `factory` (admits any serial) and a claim credential for it. */
async function claimFor(baton: TestBaton, kind: 'token' | 'certificate' = 'token', template = 'factory') {
  const res = await baton.api('POST', `/api/v1/provisioning-templates/${template}/claim`, { kind });
  expect(res.status).toBe(201);
  return res.body as { id: string; token?: string; certificate?: string; privateKey?: string; ca?: string };
}

async function withTemplate(baton: TestBaton, name = 'factory'): Promise<void> {
  expect((await baton.api('POST', '/api/v1/provisioning-templates', { name })).status).toBe(201);
}

/** A register request as a factory-fresh device sends it, and the reply it gets. */
async function register(client: MqttClient, serial: string): Promise<{ outcome: string; json: any }> {
  await client.subscribeAsync(`provisioning/${serial}/register/+`, { qos: 1 });
  const reply = nextMessage(client, (t) => t.startsWith(`provisioning/${serial}/register/`));
  const csr = await createCsr(serial, p256Key());
  await client.publishAsync(`provisioning/${serial}/register`, JSON.stringify({ templateName: 'factory', serial, deviceClass: 'pump', csr }), { qos: 1 });
  const { topic, json } = await reply;
  return { outcome: topic.slice(topic.lastIndexOf('/') + 1), json };
}

describe('client ids belong to their devices', () => {
  it('refuses an integration token under a device\'s client id with CONNACK 2, leaving the device\'s connection and session alone', async () => {
    const baton = await startBaton();
    const device = await baton.createDevice('dev-1');
    const { token } = await integrationToken(baton);
    const live = await persistentDevice(baton, device);
    const closes = closesOf(live);

    // While the device is connected: neither a clean nor a persistent takeover gets in.
    expect(await tryConnect(baton.mqttUrl, { clientId: 'dev-1', username: 'api', password: token, clean: true })).toBe('refused:2');
    expect(await tryConnect(baton.mqttUrl, { clientId: 'dev-1', username: 'api', password: token, clean: false })).toBe('refused:2');
    await expectUndisturbed(baton, live, closes);

    // While it is away: its stored subscriptions and its queued message survive the attempts.
    await live.endAsync();
    await sendDelta(baton, 'dev-1', 'off');
    expect(await tryConnect(baton.mqttUrl, { clientId: 'dev-1', username: 'api', password: token, clean: true })).toBe('refused:2');
    expect(await tryConnect(baton.mqttUrl, { clientId: 'dev-1', username: 'api', password: token, clean: false })).toBe('refused:2');
    expect(await reconnectForQueued(baton, device)).toEqual({ sessionPresent: true, led: 'off' });

    expect(await metricValue(baton, 'baton_auth_failures_total{reason="client-id-of-device"}')).toBe(4);
    // Its own client id is fine.
    expect(await tryConnect(baton.mqttUrl, { clientId: 'grafana-1', username: 'api', password: token })).toBe('connected');
  });

  it('refuses an anonymous client under a device\'s client id or a claim session\'s with CONNACK 2', async () => {
    const baton = await startBaton({ allowAnonymous: true });
    const device = await baton.createDevice('dev-1');
    const live = await persistentDevice(baton, device);
    const closes = closesOf(live);

    expect(await tryConnect(baton.mqttUrl, { clientId: 'dev-1' })).toBe('refused:2');
    expect(await tryConnect(baton.mqttUrl, { clientId: 'dev-1', clean: false })).toBe('refused:2');
    expect(await tryConnect(baton.mqttUrl, { clientId: claimClientId('SN-1') })).toBe('refused:2');
    expect(await tryConnect(baton.mqttUrl, { clientId: 'sensor-bridge' })).toBe('connected');

    await expectUndisturbed(baton, live, closes);
  });

  it('refuses another device\'s credentials under a device\'s client id (CONNACK 5, as before) and leaves the device alone', async () => {
    const baton = await startBaton();
    const victim = await baton.createDevice('dev-1');
    const other = await baton.createDevice('dev-2');
    const live = await persistentDevice(baton, victim);
    const closes = closesOf(live);

    expect(await tryConnect(baton.mqttUrl, { clientId: 'dev-1', username: 'dev-2', password: other.secret })).toBe('refused:5');
    await expectUndisturbed(baton, live, closes);

    await live.endAsync();
    await sendDelta(baton, 'dev-1', 'off');
    expect(await tryConnect(baton.mqttUrl, { clientId: 'dev-1', username: 'dev-2', password: other.secret, clean: true })).toBe('refused:5');
    expect(await reconnectForQueued(baton, victim)).toEqual({ sessionPresent: true, led: 'off' });
  });

  it('refuses a claim session under a device\'s client id, also a device registered before provision- was reserved', async () => {
    const baton = await startBaton();
    await withTemplate(baton);
    const claim = await claimFor(baton);
    // A database from before the rule may hold such a device: write it the way it was written then.
    await baton.service.store.devices.create({ id: 'provision-SN-9', secretHash: Buffer.alloc(32) }, new Date());
    const legacy = { id: 'provision-SN-9', secret: (await baton.api('POST', '/api/v1/devices/provision-SN-9/secret')).body.secret as string };
    const live = await persistentDevice(baton, legacy);
    const closes = closesOf(live);

    expect(await tryConnect(baton.mqttUrl, { clientId: 'provision-SN-9', username: 'claim', password: claim.token! })).toBe('refused:2');
    // A device id without the prefix is no claim client id at all (CONNACK 5, as before).
    const plain = await baton.createDevice('dev-1');
    expect(await tryConnect(baton.mqttUrl, { clientId: 'dev-1', username: 'claim', password: claim.token! })).toBe('refused:5');

    const received = nextMessage(live, (t) => t === delta(legacy.id));
    await sendDelta(baton, legacy.id, 'on');
    expect((await received).json.state).toEqual({ led: 'on' });
    expect(closes.count).toBe(0);
    expect(await tryConnect(baton.mqttUrl, { clientId: 'dev-1', username: 'dev-1', password: plain.secret })).toBe('connected');
  });

  it('refuses device ids starting with provision- (400 problem+json), from the API and from provisioning', async () => {
    const baton = await startBaton();
    const res = await baton.api('POST', '/api/v1/devices', { id: 'provision-x' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status: 400, code: 'InvalidRequest', fields: { 'body.id': expect.stringContaining('provision-') } });
    expect((await baton.api('GET', '/api/v1/devices/provision-x')).status).toBe(404);

    await withTemplate(baton);
    const claim = await claimFor(baton);
    const ca = await (await fetch(`${baton.httpUrl}/api/v1/ca`)).text();
    await expect(provision({ url: mqttsUrl(baton), ca, claim: { token: claim.token! }, template: 'factory', serial: 'provision-x', deviceClass: 'pump' }))
      .rejects.toMatchObject({ code: 'InvalidRequest' });
    expect((await baton.api('GET', '/api/v1/devices/provision-x')).status).toBe(404);
  });
});

describe('revoking a credential ends its sessions', () => {
  it('deleting an API token closes every MQTT session that logged in with it and refuses it from then on', async () => {
    const baton = await startBaton();
    const doomed = await integrationToken(baton, 'doomed');
    const kept = await integrationToken(baton, 'kept');
    const login = (clientId: string, token: string): IClientOptions => ({ clientId, username: 'api', password: token });
    const first = await baton.connect(login('int-1', doomed.token));
    const second = await baton.connect(login('int-2', doomed.token));
    const other = await baton.connect(login('int-3', kept.token));
    await other.subscribeAsync('devices/+/telemetry/#', { qos: 1 });
    const otherCloses = closesOf(other);
    const closed = Promise.all([whenClosed(first), whenClosed(second)]);

    expect((await baton.api('DELETE', `/api/v1/tokens/${doomed.id}`)).status).toBe(204);
    await closed;
    expect(await tryConnect(baton.mqttUrl, login('int-1', doomed.token))).toBe('refused:4');

    // Another token's session is untouched: it still receives fleet telemetry.
    const device = await baton.createDevice('dev-1');
    const publisher = await baton.connectDevice(device);
    const telemetry = nextMessage(other, (t) => t === 'devices/dev-1/telemetry');
    await publisher.publishAsync('devices/dev-1/telemetry', '{"t":1}', { qos: 1 });
    expect((await telemetry).json).toEqual({ t: 1 });
    expect(otherCloses.count).toBe(0);
  });

  it('rotating a device secret closes the sessions that logged in with the old one; the new one works at once; certificate logins stay', async () => {
    const baton = await startBaton();
    const device = await baton.createDevice('dev-1');
    const withSecret = await baton.connectDevice(device);
    const closed = whenClosed(withSecret);
    const certified = await baton.createDevice('dev-2');
    const creds = await generatedCredentials(baton, 'dev-2');
    const withCertificate = await connectTls(baton, 'dev-2', creds);
    const certificateCloses = closesOf(withCertificate);

    const rotated = await baton.api('POST', '/api/v1/devices/dev-1/secret');
    expect(rotated.status).toBe(200);
    await closed;
    expect(await tryConnect(baton.mqttUrl, { clientId: 'dev-1', username: 'dev-1', password: device.secret })).toBe('refused:4');
    expect(await tryConnect(baton.mqttUrl, { clientId: 'dev-1', username: 'dev-1', password: rotated.body.secret })).toBe('connected');

    expect((await baton.api('POST', '/api/v1/devices/dev-2/secret')).status).toBe(200);
    await withCertificate.publishAsync('devices/dev-2/telemetry', '{"t":1}', { qos: 1 });
    expect(certificateCloses.count).toBe(0);
    expect(await tryConnect(baton.mqttUrl, { clientId: 'dev-2', username: 'dev-2', password: certified.secret })).toBe('refused:4');
  });

  it('revoking a claim token closes its claim sessions; another claim of the template keeps its session', async () => {
    const baton = await startBaton();
    await withTemplate(baton);
    const revoked = await claimFor(baton);
    const kept = await claimFor(baton);
    const session = await baton.connect({ clientId: claimClientId('SN-1'), username: 'claim', password: revoked.token! });
    const closed = whenClosed(session);
    const other = await baton.connect({ clientId: claimClientId('SN-2'), username: 'claim', password: kept.token! });

    const res = await baton.api('POST', `/api/v1/provisioning-templates/factory/claims/${revoked.id}/revoke`);
    expect(res.status).toBe(200);
    await closed;
    expect(await tryConnect(baton.mqttUrl, { clientId: claimClientId('SN-1'), username: 'claim', password: revoked.token! })).toBe('refused:4');
    expect((await register(other, 'SN-2')).outcome).toBe('accepted');
  });

  it('deleting a provisioning template closes its claim sessions (token and certificate) and refuses its claims from then on', async () => {
    const baton = await startBaton();
    await withTemplate(baton);
    const token = await claimFor(baton, 'token');
    const certificate = await claimFor(baton, 'certificate');
    const claimCreds = { cert: certificate.certificate!, key: certificate.privateKey!, ca: certificate.ca! };
    const byToken = await baton.connect({ clientId: claimClientId('SN-1'), username: 'claim', password: token.token! });
    const byCertificate = await connectTls(baton, claimClientId('SN-2'), claimCreds);
    const closed = Promise.all([whenClosed(byToken), whenClosed(byCertificate)]);

    expect((await baton.api('DELETE', '/api/v1/provisioning-templates/factory')).status).toBe(204);
    await closed;
    expect((await baton.api('GET', '/api/v1/provisioning-templates/factory')).status).toBe(404);
    expect(await tryConnect(baton.mqttUrl, { clientId: claimClientId('SN-1'), username: 'claim', password: token.token! })).toBe('refused:4');
    expect(await tryConnect(mqttsUrl(baton), { clientId: claimClientId('SN-2'), ...claimCreds })).toBe('refused:5');

    // A template of the same name later does not bring the old claims back.
    await withTemplate(baton);
    expect(await tryConnect(baton.mqttUrl, { clientId: claimClientId('SN-1'), username: 'claim', password: token.token! })).toBe('refused:4');
    expect(await tryConnect(mqttsUrl(baton), { clientId: claimClientId('SN-2'), ...claimCreds })).toBe('refused:5');
    expect((await baton.api('DELETE', '/api/v1/provisioning-templates/factory')).status).toBe(204);
    expect((await baton.api('DELETE', '/api/v1/provisioning-templates/factory')).body.code).toBe('NotFound');
  });

  it('re-checks the claim at each register request: a claim revoked since CONNECT gets Forbidden and creates nothing', async () => {
    const baton = await startBaton();
    await withTemplate(baton);
    const claim = await claimFor(baton);
    const session = await baton.connect({ clientId: claimClientId('SN-1'), username: 'claim', password: claim.token! });
    // Revoked behind the broker's back (as by another process on the same database), so the
    // session is not dropped and only the request-time check stands between it and a device.
    baton.service.store.db.prepare('UPDATE provisioning_claims SET revoked_at = ? WHERE id = ?').run(new Date().toISOString(), claim.id);

    const reply = await register(session, 'SN-1');
    expect(reply).toMatchObject({ outcome: 'rejected', json: { code: 'Forbidden' } });
    expect((await baton.api('GET', '/api/v1/devices/SN-1')).status).toBe(404);
  });
});
