/**
 * The certificate admin API: issuing for a CSR or with a generated key, each refused CSR with its
 * code, listing, revocation, the CA and CRL downloads, and the expiring-certificates filter.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createCsr } from '../device-sdk/csr.js';
import { csrCredentials, generatedCredentials, metricValue, p256Key, rsaKey, tempFiles } from './helpers/certs.js';
import { startBaton } from './helpers/service.js';

const issue = (baton: Awaited<ReturnType<typeof startBaton>>, deviceId: string, body: unknown) =>
  baton.api('POST', `/api/v1/devices/${deviceId}/certificates`, body);

describe('issuing device certificates', () => {
  it.each([
    ['a CSR that is not PEM', async () => 'hello', 'InvalidCsr'],
    ['a malformed PEM CSR', async () => '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', 'InvalidCsr'],
    ['a CSR whose CN is another device', async () => createCsr('dev-2', p256Key()), 'CsrSubjectMismatch'],
    ['a CSR with an RSA-1024 key', async () => createCsr('dev-1', rsaKey(1024)), 'WeakKey'],
  ])('refuses %s with 400 %s', async (_what, csr, code) => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');

    const res = await issue(baton, 'dev-1', { csr: await csr() });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code, status: 400 });
    expect((await baton.api('GET', '/api/v1/devices/dev-1/certificates')).body.items).toEqual([]);
  });

  it('answers 404 for a device that does not exist, and 400 for a body that is neither form', async () => {
    const baton = await startBaton();
    expect((await issue(baton, 'ghost', { generateKey: true })).body.code).toBe('NotFound');
    await baton.createDevice('dev-1');
    expect((await issue(baton, 'dev-1', { generateKey: false })).body.code).toBe('InvalidRequest');
  });

  it('returns a generated key once as PEM and as a PKCS#12 that OpenSSL opens', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');

    const res = await issue(baton, 'dev-1', { generateKey: true, pkcs12Password: 'correct horse' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ source: 'generated', status: 'active', pkcs12Password: 'correct horse' });
    expect(res.body.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const opened = spawnSync('openssl', ['pkcs12', '-nokeys', '-passin', 'pass:correct horse'], { input: Buffer.from(res.body.pkcs12, 'base64') });
    expect(opened.status).toBe(0);
    expect(opened.stdout.toString()).toMatch(/subject=\/?CN ?= ?dev-1/);

    const listed = await baton.api('GET', '/api/v1/devices/dev-1/certificates');
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0]).not.toHaveProperty('privateKey');
    expect(listed.body.items[0]).toMatchObject({ serial: res.body.serial, fingerprintSha256: res.body.fingerprintSha256, status: 'active' });
  });

  it('lists serials as lowercase hex and revokes by any spelling of them', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    await baton.createDevice('dev-2');
    const { serial } = await csrCredentials(baton, 'dev-1', rsaKey(2048));
    expect(serial).toMatch(/^[0-9a-f]+$/);

    expect((await baton.api('POST', `/api/v1/devices/dev-2/certificates/${serial}/revoke`)).body.code).toBe('NotFound');
    const colons = serial.toUpperCase().match(/../g)!.join(':');
    const res = await baton.api('POST', `/api/v1/devices/dev-1/certificates/${colons}/revoke`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ serial, status: 'revoked', revocationReason: 'unspecified' });
    expect(await metricValue(baton, 'baton_certificates_revoked_total{reason="unspecified"}')).toBe(1);
  });

  it('needs an operator token to issue', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    const viewer = await baton.api('POST', '/api/v1/tokens', { name: 'v', role: 'viewer' });

    const res = await baton.api('POST', '/api/v1/devices/dev-1/certificates', { generateKey: true }, viewer.body.token);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('Forbidden');
  });
});

describe('the CA and its CRL', () => {
  it('serves the CA bundle and a CRL listing revoked serials, without a token, that OpenSSL verifies', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    const revoked = await generatedCredentials(baton, 'dev-1');
    const kept = await generatedCredentials(baton, 'dev-1');
    await baton.api('POST', `/api/v1/devices/dev-1/certificates/${revoked.serial}/revoke`, { reason: 'keyCompromise' });

    const ca = await fetch(`${baton.httpUrl}/api/v1/ca`);
    const crl = await fetch(`${baton.httpUrl}/api/v1/ca/crl`);
    expect([ca.status, crl.status]).toEqual([200, 200]);
    expect(ca.headers.get('content-type')).toBe('application/x-pem-file');
    const caPem = await ca.text();
    expect(caPem).toBe(revoked.ca);
    const files = tempFiles({ 'ca.pem': caPem, 'crl.pem': await crl.text() });
    const text = spawnSync('openssl', ['crl', '-in', files['crl.pem'], '-CAfile', files['ca.pem'], '-noout', '-text'], { encoding: 'utf8' });
    expect(text.stderr).toContain('verify OK');
    expect(text.stdout).toContain(revoked.serial.toUpperCase());
    expect(text.stdout).not.toContain(kept.serial.toUpperCase());
    expect(text.stdout).toContain('Key Compromise');
  });
});

describe('certificates expiring soon', () => {
  it('lists devices whose newest unrevoked certificate expires within N days, and counts them in a metric', async () => {
    const baton = await startBaton({ certLifetimeDays: 20 });
    await baton.createDevice('dev-soon');
    await baton.createDevice('dev-revoked');
    await baton.createDevice('dev-none');
    await generatedCredentials(baton, 'dev-soon');
    const gone = await generatedCredentials(baton, 'dev-revoked');
    await baton.api('POST', `/api/v1/devices/dev-revoked/certificates/${gone.serial}/revoke`);
    const ids = async (query: string) => (await baton.api('GET', `/api/v1/devices?${query}`)).body.items.map((d: { id: string }) => d.id);

    expect(await ids('certExpiresWithinDays=30')).toEqual(['dev-soon']);
    expect(await ids('certExpiresWithinDays=10')).toEqual([]);
    expect(await ids('certExpiresWithinDays=30&status=never-connected')).toEqual(['dev-soon']);
    expect(await metricValue(baton, 'baton_certificates_expiring_devices')).toBe(1);
    expect((await baton.api('GET', '/api/v1/devices?certExpiresWithinDays=soon')).body.code).toBe('InvalidRequest');
  });

  it('leaves out a device that rotated to a certificate with time left', async () => {
    const baton = await startBaton({ certLifetimeDays: 20 });
    await baton.createDevice('dev-1');
    await generatedCredentials(baton, 'dev-1');
    const later = await baton.restart({ certLifetimeDays: 365 });
    await generatedCredentials(later, 'dev-1');

    expect((await later.api('GET', '/api/v1/devices?certExpiresWithinDays=30')).body.items).toEqual([]);
    expect(await metricValue(later, 'baton_certificates_expiring_devices')).toBe(0);
  });
});
