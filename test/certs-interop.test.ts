/**
 * Interoperability with tools that are not ours: Debian's `mosquitto_pub` logs in over mutual TLS
 * with Baton-issued P-256 and RSA certificates, and `openssl verify` accepts every kind of
 * certificate Baton issues against the CA it serves.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { rotateCertificate } from '../device-sdk/certificates.js';
import { connect } from '../device-sdk/index.js';
import { provision } from '../device-sdk/provision.js';
import { csrCredentials, generatedCredentials, mqttsUrl, opensslVerify, p256Key, rsaKey, tempFiles, type ClientCredentials } from './helpers/certs.js';
import { startBaton, type TestBaton } from './helpers/service.js';

const run = promisify(execFile);

type Issue = (baton: TestBaton) => Promise<ClientCredentials>;
const issuers: Array<[string, Issue]> = [
  ['a P-256 certificate with a generated key', (baton) => generatedCredentials(baton, 'dev-1')],
  ['a P-256 certificate for its CSR', (baton) => csrCredentials(baton, 'dev-1', p256Key())],
  ['an RSA-2048 certificate for its CSR', (baton) => csrCredentials(baton, 'dev-1', rsaKey(2048))],
];

describe('mosquitto_pub over mutual TLS', () => {
  it.each(issuers)('publishes telemetry with %s and no password', async (_what, issue) => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    const creds = await issue(baton);
    const files = tempFiles({ 'ca.pem': creds.ca, 'cert.pem': creds.cert, 'key.pem': creds.key });

    await run('mosquitto_pub', [
      '-h', '127.0.0.1', '-p', String(baton.service.ports().mqttsPort),
      '--cafile', files['ca.pem'], '--cert', files['cert.pem'], '--key', files['key.pem'],
      '-i', 'dev-1', '-q', '1', '-t', 'devices/dev-1/telemetry/flow', '-m', '{"litres":12.5}',
    ]);

    const rows = (await baton.api('GET', '/api/v1/devices/dev-1/telemetry')).body.items;
    expect(rows).toMatchObject([{ stream: 'flow', data: { litres: 12.5 } }]);
    const [connection] = await baton.service.store.connections.recent('dev-1', 2);
    expect(connection?.transport).toBe('tls');
  });

  it('is refused with a revoked certificate', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    const creds = await generatedCredentials(baton, 'dev-1');
    await baton.api('POST', `/api/v1/devices/dev-1/certificates/${creds.serial}/revoke`);
    const files = tempFiles({ 'ca.pem': creds.ca, 'cert.pem': creds.cert, 'key.pem': creds.key });

    const result = await run('mosquitto_pub', [
      '-h', '127.0.0.1', '-p', String(baton.service.ports().mqttsPort),
      '--cafile', files['ca.pem'], '--cert', files['cert.pem'], '--key', files['key.pem'],
      '-i', 'dev-1', '-t', 'devices/dev-1/telemetry', '-m', '{}',
    ]).then(() => ({ code: 0, stderr: '' }), (err: { code: number; stderr: string }) => err);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/not authori[sz]ed/i);
  });
});

describe('openssl verify', () => {
  it('accepts every kind of certificate Baton issues against the CA it serves', async () => {
    const baton = await startBaton();
    await baton.api('POST', '/api/v1/provisioning-templates', { name: 'factory' });
    const claim = (await baton.api('POST', '/api/v1/provisioning-templates/factory/claim', { kind: 'certificate' })).body;
    await baton.createDevice('dev-1');
    const generated = await generatedCredentials(baton, 'dev-1');
    const p256 = await csrCredentials(baton, 'dev-1', p256Key());
    const rsa = await csrCredentials(baton, 'dev-1', rsaKey(2048));
    const client = await connect({ url: mqttsUrl(baton), deviceId: 'dev-1', cert: p256.cert, key: p256.key, ca: p256.ca, health: { enabled: false } });
    const rotated = await rotateCertificate(client).finally(() => client.close());
    const provisioned = await provision({
      url: mqttsUrl(baton), ca: p256.ca, claim: { cert: claim.certificate, key: claim.privateKey }, template: 'factory', serial: 'SN-1', deviceClass: 'pump',
    });
    const ca = await (await fetch(`${baton.httpUrl}/api/v1/ca`)).text();

    const issued = {
      generated: generated.cert, p256: p256.cert, rsa: rsa.cert, rotated: rotated.certificatePem,
      provisioned: provisioned.certificatePem, claim: claim.certificate as string,
    };
    for (const [kind, cert] of Object.entries(issued)) {
      expect(opensslVerify(ca, cert), kind).toMatchObject({ status: 0, output: expect.stringMatching(/: OK$/) });
    }
  });
});
