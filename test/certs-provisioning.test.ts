/**
 * Zero-touch provisioning end to end: templates, claim tokens and claim certificates, the SDK's
 * `provision()`, approval, and every refusal with its code. A claim session can do nothing but
 * provision: anything else closes it.
 */
import { describe, expect, it } from 'vitest';
import { claimClientId } from '../device-sdk/certificates.js';
import { createCsr } from '../device-sdk/csr.js';
import { provision, type ProvisionOptions } from '../device-sdk/provision.js';
import { connectTls, metricValue, mqttsUrl, p256Key, tryConnect } from './helpers/certs.js';
import { startBaton, subscribeGranted, whenClosed, type TestBaton } from './helpers/service.js';

type Template = Record<string, unknown>;

async function withTemplate(template: Template, kind: 'token' | 'certificate' = 'token') {
  const baton = await startBaton();
  const created = await baton.api('POST', '/api/v1/provisioning-templates', { name: 'factory', ...template });
  expect(created.status).toBe(201);
  const claim = (await baton.api('POST', '/api/v1/provisioning-templates/factory/claim', { kind })).body;
  const ca = await (await fetch(`${baton.httpUrl}/api/v1/ca`)).text();
  const credential = kind === 'token' ? { token: claim.token as string } : { cert: claim.certificate as string, key: claim.privateKey as string };
  const options = (serial: string, extra: Partial<ProvisionOptions> = {}): ProvisionOptions =>
    ({ url: mqttsUrl(baton), ca, claim: credential, template: 'factory', serial, deviceClass: 'pump', ...extra });
  return { baton, ca, claim, options };
}

const connectAs = (baton: TestBaton, ca: string, device: { deviceId: string; certificatePem: string; privateKeyPem?: string | undefined }) =>
  tryConnect(mqttsUrl(baton), { clientId: device.deviceId, cert: device.certificatePem, key: device.privateKeyPem!, ca });

describe('zero-touch provisioning', () => {
  it('provisions with a claim token: the new device takes the template defaults and logs in at once', async () => {
    const { baton, ca, options } = await withTemplate({ deviceClasses: ['pump'], tags: ['fresh'], attributes: { batch: 7 } });

    const device = await provision(options('SN-1'));
    expect(device).toMatchObject({ deviceId: 'SN-1', status: 'active', certificateSerial: expect.stringMatching(/^[0-9a-f]+$/) });
    expect(await connectAs(baton, ca, device)).toBe('connected');
    const record = (await baton.api('GET', '/api/v1/devices/SN-1')).body;
    expect(record).toMatchObject({ id: 'SN-1', deviceClass: 'pump', tags: ['fresh'], attributes: { batch: 7 } });
    const [cert] = (await baton.api('GET', '/api/v1/devices/SN-1/certificates')).body.items;
    expect(cert).toMatchObject({ serial: device.certificateSerial, source: 'provisioning', status: 'active' });
  });

  it('provisions with a claim certificate and keeps the device pending until approved', async () => {
    const { baton, ca, options } = await withTemplate({ requireApproval: true }, 'certificate');

    const device = await provision(options('SN-2'));
    expect(device.status).toBe('pending');
    const pending = (await baton.api('GET', '/api/v1/devices?status=pending')).body.items;
    expect(pending.map((d: { id: string; status: string }) => [d.id, d.status])).toEqual([['SN-2', 'pending']]);
    expect((await baton.api('GET', '/api/v1/devices?status=never-connected')).body.items).toEqual([]);
    expect(await connectAs(baton, ca, device)).toBe('refused:5');
    expect(await metricValue(baton, 'baton_auth_failures_total{reason="device-pending"}')).toBe(1);

    const approved = await baton.api('POST', '/api/v1/devices/SN-2/approve');
    expect(approved.body).toMatchObject({ id: 'SN-2', status: 'never-connected' });
    expect((await baton.api('POST', '/api/v1/devices/SN-2/approve')).body.code).toBe('Conflict');
    expect(await connectAs(baton, ca, device)).toBe('connected');
  });

  it.each([
    ['a serial outside the allow-list', { allowedSerials: ['SN-1'] }, 'SN-9', {}, 'NotAllowed'],
    ['a device class the template does not admit', { deviceClasses: ['valve'] }, 'SN-1', {}, 'NotAllowed'],
    ['another template than the claim\'s', {}, 'SN-1', { template: 'other' }, 'Forbidden'],
  ])('refuses %s', async (_what, template: Template, serial, extra, code) => {
    const { baton, options } = await withTemplate(template);

    await expect(provision(options(serial, extra))).rejects.toMatchObject({ code });
    expect((await baton.api('GET', `/api/v1/devices/${serial}`)).status).toBe(404);
    expect(await metricValue(baton, `baton_certificate_requests_total{kind="provisioning",outcome="${code}"}`)).toBe(1);
  });

  it('refuses a CSR whose CN is not the serial, creating nothing', async () => {
    const { baton, options } = await withTemplate({});

    const csr = { csrPem: await createCsr('SN-other', p256Key()) };
    await expect(provision(options('SN-1', { csr }))).rejects.toMatchObject({ code: 'CsrSubjectMismatch' });
    expect((await baton.api('GET', '/api/v1/devices/SN-1')).status).toBe(404);
    expect((await provision(options('SN-1'))).deviceId).toBe('SN-1');
  });

  it('refuses a second registration of the same serial with AlreadyProvisioned', async () => {
    const { options } = await withTemplate({});

    await provision(options('SN-1'));
    await expect(provision(options('SN-1'))).rejects.toMatchObject({ code: 'AlreadyProvisioned' });
  });

  it('frees the serial of a deleted device for a new registration', async () => {
    const { baton, options } = await withTemplate({});

    await provision(options('SN-1'));
    expect((await baton.api('DELETE', '/api/v1/devices/SN-1')).status).toBe(204);
    expect((await provision(options('SN-1'))).status).toBe('active');
  });
});

describe('claim credentials', () => {
  it('closes a claim session that publishes anywhere but its provisioning topic', async () => {
    const { baton, claim } = await withTemplate({});
    const login = { clientId: claimClientId('SN-1'), username: 'claim', password: claim.token as string };

    const client = await baton.connect(login);
    expect(await subscribeGranted(client, ['provisioning/SN-1/register/#', 'provisioning/SN-2/register/#', 'devices/SN-1/#'])).toEqual([1, 128, 128]);
    const closed = whenClosed(client);
    client.publish('devices/SN-1/telemetry', '{"t":1}', { qos: 1 });
    await closed;

    const other = await baton.connect(login);
    const otherClosed = whenClosed(other);
    other.publish('provisioning/SN-2/register', '{}', { qos: 1 });
    await otherClosed;
    expect(await metricValue(baton, 'baton_acl_denials_total{action="publish"}')).toBe(2);
  });

  it('refuses a wrong token, a claim client id that names no serial, and a revoked claim', async () => {
    const { baton, claim } = await withTemplate({});
    const token = claim.token as string;

    expect(await tryConnect(baton.mqttUrl, { clientId: claimClientId('SN-1'), username: 'claim', password: `${token}x` })).toBe('refused:4');
    expect(await tryConnect(baton.mqttUrl, { clientId: 'SN-1', username: 'claim', password: token })).toBe('refused:5');
    expect(await tryConnect(baton.mqttUrl, { clientId: claimClientId('SN-1'), username: 'claim', password: token })).toBe('connected');

    const revoked = await baton.api('POST', `/api/v1/provisioning-templates/factory/claims/${claim.id}/revoke`);
    expect(revoked.body).toMatchObject({ id: claim.id, kind: 'token', revokedAt: expect.any(String) });
    expect(await tryConnect(baton.mqttUrl, { clientId: claimClientId('SN-1'), username: 'claim', password: token })).toBe('refused:4');
  });

  it('does not let a claim certificate log in as a device, and drops its session when revoked', async () => {
    const { baton, ca, claim } = await withTemplate({}, 'certificate');
    const creds = { cert: claim.certificate as string, key: claim.privateKey as string, ca };
    await baton.createDevice('dev-1');

    expect(await tryConnect(mqttsUrl(baton), { clientId: 'dev-1', ...creds })).toBe('refused:5');
    const client = await connectTls(baton, claimClientId('SN-1'), creds);
    const closed = whenClosed(client);
    await baton.api('POST', `/api/v1/provisioning-templates/factory/claims/${claim.id}/revoke`);
    await closed;
    expect(await tryConnect(mqttsUrl(baton), { clientId: claimClientId('SN-1'), ...creds })).toBe('refused:5');
  });

  it('validates templates: a duplicate name, an unknown site, and claims for a missing template', async () => {
    const baton = await startBaton();
    expect((await baton.api('POST', '/api/v1/provisioning-templates', { name: 'factory' })).status).toBe(201);
    expect((await baton.api('POST', '/api/v1/provisioning-templates', { name: 'factory' })).body.code).toBe('Conflict');
    expect((await baton.api('POST', '/api/v1/provisioning-templates', { name: 'x', site: 'nowhere' })).body.code).toBe('InvalidRequest');
    expect((await baton.api('POST', '/api/v1/provisioning-templates/missing/claim', { kind: 'token' })).body.code).toBe('NotFound');
    const listed = (await baton.api('GET', '/api/v1/provisioning-templates')).body.items;
    expect(listed).toEqual([{ name: 'factory', deviceClasses: null, site: null, tags: [], attributes: {}, allowedSerials: null, requireApproval: false, createdAt: expect.any(String) }]);
  });
});
