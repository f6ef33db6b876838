/**
 * Certificate rotation over MQTT (`devices/{id}/certificates/create-from-csr`), with a raw mqtt.js
 * client and with the SDK: the accepted reply, each refused CSR with its code on `…/rejected`
 * (the connection stays up), and the old certificate staying valid.
 */
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { rotateCertificate } from '../device-sdk/certificates.js';
import { createCsr } from '../device-sdk/csr.js';
import { connect } from '../device-sdk/index.js';
import { connectTls, generatedCredentials, keyPem, metricValue, mqttsUrl, p256Key, rsaKey, tryConnect } from './helpers/certs.js';
import { eventually, nextMessage, startBaton } from './helpers/service.js';

const REQUEST = 'devices/dev-1/certificates/create-from-csr';

async function request(client: MqttClient, payload: string): Promise<{ topic: string; json: any }> {
  const reply = nextMessage(client, (topic) => topic.startsWith(`${REQUEST}/`));
  await client.publishAsync(REQUEST, payload, { qos: 1 });
  return reply;
}

async function connectedDevice() {
  const baton = await startBaton();
  await baton.createDevice('dev-1');
  const creds = await generatedCredentials(baton, 'dev-1');
  const client = await connectTls(baton, 'dev-1', creds);
  await client.subscribeAsync(`${REQUEST}/+`, { qos: 1 });
  return { baton, creds, client };
}

describe('rotation over MQTT', () => {
  it('answers a CSR with a new certificate on …/accepted; old and new both log in', async () => {
    const { baton, creds, client } = await connectedDevice();
    const key = p256Key();

    const reply = await request(client, JSON.stringify({ csr: await createCsr('dev-1', key), clientToken: 'rot-1' }));
    expect(reply.topic).toBe(`${REQUEST}/accepted`);
    expect(reply.json).toMatchObject({ clientToken: 'rot-1', serial: expect.stringMatching(/^[0-9a-f]+$/) });
    expect(Object.keys(reply.json).sort()).toEqual(['certificate', 'clientToken', 'notAfter', 'serial']);
    expect(new Date(reply.json.notAfter).getTime()).toBeGreaterThan(Date.now());

    const listed = (await baton.api('GET', '/api/v1/devices/dev-1/certificates')).body.items;
    expect(listed).toMatchObject([
      { serial: reply.json.serial, source: 'rotation', status: 'active' },
      { serial: creds.serial, source: 'generated', status: 'active' },
    ]);
    await client.endAsync();
    expect(await tryConnect(mqttsUrl(baton), { clientId: 'dev-1', cert: reply.json.certificate, key: keyPem(key), ca: creds.ca })).toBe('connected');
    expect(await tryConnect(mqttsUrl(baton), { clientId: 'dev-1', ...creds })).toBe('connected');
  });

  it.each([
    ['a CSR that is not PEM', async () => JSON.stringify({ csr: 'not a csr', clientToken: 't' }), 'InvalidCsr'],
    ['a CSR for another device', async () => JSON.stringify({ csr: await createCsr('dev-2', p256Key()), clientToken: 't' }), 'CsrSubjectMismatch'],
    ['an RSA-1024 key', async () => JSON.stringify({ csr: await createCsr('dev-1', rsaKey(1024)), clientToken: 't' }), 'WeakKey'],
    ['a request without a CSR', async () => JSON.stringify({ clientToken: 't' }), 'InvalidRequest'],
    ['a payload that is not JSON', async () => '{"csr":', 'InvalidJSON'],
  ])('refuses %s on …/rejected and keeps the connection', async (_what, payload, code) => {
    const { baton, client } = await connectedDevice();

    const reply = await request(client, await payload());
    expect(reply.topic).toBe(`${REQUEST}/rejected`);
    expect(reply.json).toMatchObject({ code, ...(code === 'InvalidJSON' ? {} : { clientToken: 't' }) });
    expect(client.connected).toBe(true);
    expect((await baton.api('GET', '/api/v1/devices/dev-1/certificates')).body.items).toHaveLength(1);
  });
});

describe('rotation with the SDK', () => {
  it('connects over mutual TLS and rotates to a certificate that then logs in', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    const creds = await generatedCredentials(baton, 'dev-1');
    const tls = { url: mqttsUrl(baton), deviceId: 'dev-1', ca: creds.ca, health: { enabled: false } };
    const client = await connect({ ...tls, cert: creds.cert, key: creds.key });

    try {
      const foreign = { csrPem: await createCsr('dev-9', p256Key()) };
      await expect(rotateCertificate(client, { csr: foreign })).rejects.toMatchObject({ code: 'CsrSubjectMismatch' });
      const rotated = await rotateCertificate(client);
      expect(rotated.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      await client.close();
      // The new certificate logs in (its connection takes the session over).
      const again = await connect({ ...tls, cert: rotated.certificatePem, key: rotated.privateKeyPem! });
      await again.close();
    } finally {
      await client.close();
    }
  });

  it('reconnects with the rotated certificate once the old one is revoked', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    const old = await generatedCredentials(baton, 'dev-1');
    const client = await connect({
      url: mqttsUrl(baton), deviceId: 'dev-1', cert: old.cert, key: old.key, ca: old.ca, health: { enabled: false }, reconnect: { minMs: 20, maxMs: 50 },
    });
    try {
      await client.rotateCertificate({ apply: true });
      const dropped = new Promise((resolve) => client.once('disconnect', () => resolve(undefined)));
      const back = new Promise((resolve) => client.once('connect', () => resolve(undefined)));

      await baton.api('POST', `/api/v1/devices/dev-1/certificates/${old.serial}/revoke`, { reason: 'superseded' });
      await dropped;
      await back;
      expect(client.connected).toBe(true);
      expect(await metricValue(baton, 'baton_auth_failures_total{reason="certificate-revoked"}')).toBe(0);
      await eventually(async () => ((await baton.api('GET', '/api/v1/devices/dev-1')).body.status === 'online' ? true : undefined));
    } finally {
      await client.close();
    }
  });
});
