import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createDeviceKeyAndCsr } from '../device-sdk/csr.js';
import type { FleetCa } from './fleet-ca.js';
import { afterDays, expectCodeSync, openTestCa, T0 } from './test-support.js';

async function deviceCert(ca: FleetCa, deviceId: string, lifetimeDays = 365): Promise<string> {
  const { csrPem } = await createDeviceKeyAndCsr(deviceId);
  return (await ca.signCsr({ csrPem, deviceId, lifetimeDays })).certificatePem;
}

describe('verifyDeviceCertificate', () => {
  it('returns the device id of a certificate this CA issued, from PEM or X509Certificate', async () => {
    const ca = await openTestCa();
    const pem = await deviceCert(ca, 'sensor:42');
    expect(ca.verifyDeviceCertificate(pem)).toBe('sensor:42');
    expect(ca.verifyDeviceCertificate(new X509Certificate(pem), afterDays(300))).toBe('sensor:42');
  });

  it('refuses a certificate from another CA, even one with the same name', async () => {
    const ours = await openTestCa();
    const theirs = await openTestCa();
    expect(theirs.certificate.subject).toBe(ours.certificate.subject);
    const foreign = await deviceCert(theirs, 'dev-1');
    expectCodeSync(() => ours.verifyDeviceCertificate(foreign), 'Unauthorized');
  });

  it('refuses an expired or not yet valid certificate on the injected clock', async () => {
    const ca = await openTestCa();
    const pem = await deviceCert(ca, 'dev-1', 1);
    expect(ca.verifyDeviceCertificate(pem, afterDays(0.9))).toBe('dev-1');
    expectCodeSync(() => ca.verifyDeviceCertificate(pem, afterDays(1.01)), 'Unauthorized');
    expectCodeSync(() => ca.verifyDeviceCertificate(pem, afterDays(-1)), 'Unauthorized');
  });

  it('refuses a server certificate (no clientAuth) and garbage', async () => {
    const ca = await openTestCa();
    const server = await ca.issueServerCertificate({ hostnames: ['localhost'] });
    expectCodeSync(() => ca.verifyDeviceCertificate(server.certificatePem), 'Unauthorized');
    expectCodeSync(() => ca.verifyDeviceCertificate('not a certificate'), 'Unauthorized');
    expectCodeSync(() => ca.verifyDeviceCertificate(ca.certificate), 'Unauthorized');
  });

  it('tells a claim certificate from a device certificate by its URI SAN, not its CN', async () => {
    const ca = await openTestCa();
    const claim = await ca.issueClaimCertificate({ templateName: 'factory-a' });
    const lookalike = await deviceCert(ca, 'claim:factory-a');

    expect(new X509Certificate(claim.certificatePem).subject).toBe('CN=claim:factory-a');
    expect(new X509Certificate(claim.certificatePem).subjectAltName).toBe('URI:urn:baton:claim:factory-a');
    expect(ca.verifyClientCertificate(claim.certificatePem)).toEqual({
      kind: 'claim',
      templateName: 'factory-a',
      serial: claim.serial,
      notAfter: claim.notAfter,
    });
    expectCodeSync(() => ca.verifyDeviceCertificate(claim.certificatePem), 'Forbidden');
    expect(ca.verifyClientCertificate(lookalike)).toMatchObject({ kind: 'device', deviceId: 'claim:factory-a' });
  });

  it('reports the serial in the same spelling the issuer returned', async () => {
    const ca = await openTestCa();
    const { csrPem } = await createDeviceKeyAndCsr('dev-1');
    const issued = await ca.signCsr({ csrPem, deviceId: 'dev-1', now: T0 });
    expect(ca.verifyClientCertificate(issued.certificatePem)).toEqual({
      kind: 'device',
      deviceId: 'dev-1',
      serial: issued.serial,
      notAfter: issued.notAfter,
    });
  });
});
