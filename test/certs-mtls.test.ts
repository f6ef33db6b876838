/**
 * Mutual TLS on the MQTTS listener, on real TLS sockets: devices log in with their certificate,
 * foreign, expired and revoked certificates are refused, revocation drops live sessions, and
 * token logins keep working over TLS unless switched off per listener.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFleetCa, type GeneratedCredentials } from '../certs/index.js';
import {
  connectTls, csrCredentials, generatedCredentials, metricValue, mqttsUrl, p256Key, rsaKey, tempDir, tryConnect,
} from './helpers/certs.js';
import { eventually, startBaton, whenClosed, type TestBaton } from './helpers/service.js';

const DAY_MS = 86_400_000;

describe('mutual TLS on MQTTS', () => {
  it('logs a device in by its P-256 certificate, without a password', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    const creds = await generatedCredentials(baton, 'dev-1');

    const client = await connectTls(baton, 'dev-1', creds);
    await client.publishAsync('devices/dev-1/telemetry', '{"t":21.5}', { qos: 1 });

    const device = await baton.api('GET', '/api/v1/devices/dev-1');
    expect(device.body).toMatchObject({ status: 'online', connection: { event: 'connected', transport: 'tls' } });
    expect((await baton.api('GET', '/api/v1/devices/dev-1/telemetry')).body.items[0]).toMatchObject({ data: { t: 21.5 } });
  });

  it('logs a device in by an RSA-2048 certificate issued for its CSR', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-rsa');
    const creds = await csrCredentials(baton, 'dev-rsa', rsaKey(2048));

    const client = await connectTls(baton, 'dev-rsa', creds);
    expect(client.connected).toBe(true);
  });

  it.each([
    ['TLS 1.2', { maxVersion: 'TLSv1.2' as const }],
    ['TLS 1.3', { minVersion: 'TLSv1.3' as const }],
  ])('speaks %s', async (_name, versions) => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    const creds = await generatedCredentials(baton, 'dev-1');
    expect(await tryConnect(mqttsUrl(baton), { clientId: 'dev-1', ...creds, ...versions })).toBe('connected');
  });

  it('accepts the device id as username (as the SDK sends it) and refuses another', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    const creds = await generatedCredentials(baton, 'dev-1');

    expect(await tryConnect(mqttsUrl(baton), { clientId: 'dev-1', username: 'dev-1', ...creds })).toBe('connected');
    expect(await tryConnect(mqttsUrl(baton), { clientId: 'dev-1', username: 'dev-2', ...creds })).toBe('refused:5');
    expect(await metricValue(baton, 'baton_auth_failures_total{reason="username-mismatch"}')).toBe(1);
  });

  it('refuses a client id other than the certificate\'s device id', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    await baton.createDevice('dev-2');
    const creds = await generatedCredentials(baton, 'dev-1');

    expect(await tryConnect(mqttsUrl(baton), { clientId: 'dev-2', ...creds })).toBe('refused:5');
    expect(await metricValue(baton, 'baton_auth_failures_total{reason="client-id-mismatch"}')).toBe(1);
  });

  // Certificates that never came from the API: made by another CA, or by the broker's own CA (its
  // files in the data dir) behind Baton's back: one issued on a clock two days back that lived one
  // day, one valid but never recorded.
  const otherCa = async () => openFleetCa({ dir: tempDir() });
  const ownCa = async (baton: TestBaton) => openFleetCa({ dir: join(baton.dataDir, 'ca') });
  it.each<[string, (baton: TestBaton) => Promise<GeneratedCredentials>, string, string]>([
    ['from another CA in the TLS handshake', async () => (await otherCa()).generateDeviceCredentials({ deviceId: 'dev-1', password: 'pw' }),
      'closed', 'tls-UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ['that has expired in the TLS handshake', async (baton) => (await ownCa(baton)).generateDeviceCredentials({
      deviceId: 'dev-1', password: 'pw', lifetimeDays: 1, now: new Date(Date.now() - 2 * DAY_MS),
    }), 'closed', 'tls-CERT_HAS_EXPIRED'],
    ['of our CA that Baton never recorded at CONNECT', async (baton) => (await ownCa(baton)).generateDeviceCredentials({ deviceId: 'dev-1', password: 'pw' }),
      'refused:5', 'certificate-unknown'],
  ])('refuses a certificate %s', async (_what, make, outcome, reason) => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    const { ca } = await generatedCredentials(baton, 'dev-1');
    const cert = await make(baton);

    expect(await tryConnect(mqttsUrl(baton), { clientId: 'dev-1', cert: cert.certificatePem, key: cert.privateKeyPem, ca })).toBe(outcome);
    expect(await metricValue(baton, `baton_auth_failures_total{reason="${reason}"}`)).toBe(1);
  });

  it('drops the live session of a revoked certificate and refuses it at the next connect', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    const revoked = await generatedCredentials(baton, 'dev-1');
    const kept = await csrCredentials(baton, 'dev-1', p256Key());
    const client = await connectTls(baton, 'dev-1', revoked);
    const closed = whenClosed(client);

    const res = await baton.api('POST', `/api/v1/devices/dev-1/certificates/${revoked.serial}/revoke`, { reason: 'keyCompromise' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ serial: revoked.serial, status: 'revoked', revocationReason: 'keyCompromise' });
    await closed;

    expect(await tryConnect(mqttsUrl(baton), { clientId: 'dev-1', ...revoked })).toBe('refused:5');
    expect(await metricValue(baton, 'baton_auth_failures_total{reason="certificate-revoked"}')).toBe(1);
    expect(await tryConnect(mqttsUrl(baton), { clientId: 'dev-1', ...kept })).toBe('connected');
    const connection = await eventually(async () => {
      const [last] = (await baton.service.store.connections.recent('dev-1', 10)).filter((c) => c.event === 'disconnected');
      return last;
    });
    expect(connection.reason).toBe('kicked');
  });

  it('revokes the certificates of a deleted device, even if the id is registered again', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    const creds = await generatedCredentials(baton, 'dev-1');
    const client = await connectTls(baton, 'dev-1', creds);
    const closed = whenClosed(client);

    expect((await baton.api('DELETE', '/api/v1/devices/dev-1')).status).toBe(204);
    await closed;
    await baton.createDevice('dev-1');

    expect(await tryConnect(mqttsUrl(baton), { clientId: 'dev-1', ...creds })).toBe('refused:5');
    expect(await metricValue(baton, 'baton_auth_failures_total{reason="certificate-revoked"}')).toBe(1);
    // The new device's list keeps the old one's certificates, revoked: the id's history.
    const { items } = (await baton.api('GET', '/api/v1/devices/dev-1/certificates')).body;
    expect(items).toMatchObject([{ serial: creds.serial, status: 'revoked', revocationReason: 'cessationOfOperation' }]);
  });
});

describe('password logins per listener', () => {
  it('keeps device secrets working over TLS without a client certificate', async () => {
    const baton = await startBaton();
    const device = await baton.createDevice('dev-1');
    const { ca } = await generatedCredentials(baton, 'dev-1');

    expect(await tryConnect(mqttsUrl(baton), { clientId: 'dev-1', username: 'dev-1', password: device.secret, ca })).toBe('connected');
  });

  it('refuses passwords on MQTTS when BATON_MQTTS_PASSWORD_AUTH is off, and keeps certificates and TCP working', async () => {
    const baton = await startBaton({ mqttsPasswordAuth: false });
    const device = await baton.createDevice('dev-1');
    const creds = await generatedCredentials(baton, 'dev-1');
    const secret = { clientId: 'dev-1', username: 'dev-1', password: device.secret };

    expect(await tryConnect(mqttsUrl(baton), { ...secret, ca: creds.ca })).toBe('refused:5');
    expect(await metricValue(baton, 'baton_auth_failures_total{reason="password-auth-off"}')).toBe(1);
    expect(await tryConnect(mqttsUrl(baton), { clientId: 'dev-1', ...creds })).toBe('connected');
    expect(await tryConnect(baton.mqttUrl, secret)).toBe('connected');
  });

  it('refuses passwords on TCP when BATON_MQTT_PASSWORD_AUTH is off', async () => {
    const baton = await startBaton({ mqttPasswordAuth: false });
    const device = await baton.createDevice('dev-1');

    expect(await tryConnect(baton.mqttUrl, { clientId: 'dev-1', username: 'dev-1', password: device.secret })).toBe('refused:5');
  });
});
