import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCsr, createDeviceKeyAndCsr, x509 } from '../device-sdk/csr.js';
import { afterDays, ecKey, expectCode, openTestCa, opensslVerify, rsaKey, T0 } from './test-support.js';

const { KeyUsageFlags } = x509;

/** Re-wraps DER as a CSR PEM, for tampering tests. */
const csrPem = (der: Buffer): string =>
  `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
const csrDer = (pem: string): Buffer => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');

describe('signCsr', () => {
  it('issues a device certificate for a P-256 CSR with the full client profile', async () => {
    const ca = await openTestCa();
    const { csrPem } = await createDeviceKeyAndCsr('dev-1');
    const issued = await ca.signCsr({ csrPem, deviceId: 'dev-1', lifetimeDays: 30 });
    const cert = new X509Certificate(issued.certificatePem);
    const parsed = new x509.X509Certificate(issued.certificatePem);

    expect(cert.subject).toBe('CN=dev-1');
    expect(cert.subjectAltName).toBe('URI:urn:baton:device:dev-1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(cert.ca).toBe(false);
    expect(parsed.getExtension(x509.KeyUsagesExtension)?.usages).toBe(KeyUsageFlags.digitalSignature);
    expect(parsed.getExtension(x509.BasicConstraintsExtension)?.critical).toBe(true);
    const caCert = new x509.X509Certificate(ca.certificate.toString());
    const caKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    expect(parsed.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(caKeyId);
    expect(issued.serial).toMatch(/^[0-9a-f]{30,32}$/);
    expect(issued.serial).toBe(cert.serialNumber.toLowerCase());
    expect(issued.fingerprintSha256).toBe(cert.fingerprint256.replace(/:/g, '').toLowerCase());
    expect(issued.notBefore.getTime()).toBe(T0.getTime() - 5 * 60_000);
    expect(issued.notAfter).toEqual(afterDays(30));
  });

  it('gives RSA keys keyEncipherment as well, and openssl verify accepts both kinds', async () => {
    const ca = await openTestCa();
    const rsa = await ca.signCsr({ csrPem: await createCsr('dev-rsa', rsaKey(2048)), deviceId: 'dev-rsa' });
    const ec = await ca.signCsr({ csrPem: await createCsr('dev-ec', ecKey('P-256')), deviceId: 'dev-ec' });
    const usages = new x509.X509Certificate(rsa.certificatePem).getExtension(x509.KeyUsagesExtension)?.usages;

    expect(usages).toBe(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment);
    for (const { certificatePem } of [rsa, ec]) {
      const result = opensslVerify(ca.chainPem, certificatePem, ['-purpose', 'sslclient']);
      expect(result.stdout.trim()).toMatch(/: OK$/);
    }
  });

  it('uses a distinct random serial for every certificate', async () => {
    const ca = await openTestCa();
    const { csrPem } = await createDeviceKeyAndCsr('dev-1');
    const serials = new Set<string>();
    for (let i = 0; i < 5; i++) serials.add((await ca.signCsr({ csrPem, deviceId: 'dev-1' })).serial);
    expect(serials.size).toBe(5);
  });

  it.each([
    ['RSA-1024', () => rsaKey(1024)],
    ['P-384', () => ecKey('P-384')],
  ])('refuses a %s key with WeakKey', async (_name, makeKey) => {
    const ca = await openTestCa();
    await expectCode(ca.signCsr({ csrPem: await createCsr('dev-1', makeKey()), deviceId: 'dev-1' }), 'WeakKey');
  });

  it.each([
    ['text that is not PEM', 'hello, I am a CSR'],
    ['bare base64 DER', 'MIIBFjCBvAIBADA='],
    ['PEM of garbage', csrPem(Buffer.from('not a certification request'))],
    ['a certificate instead of a CSR', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'],
    ['an oversized PEM', csrPem(Buffer.alloc(20_000, 1))],
  ])('refuses %s with InvalidCsr', async (_name, pem) => {
    const ca = await openTestCa();
    await expectCode(ca.signCsr({ csrPem: pem, deviceId: 'dev-1' }), 'InvalidCsr');
  });

  it('refuses a CSR whose content was altered after signing with InvalidCsr', async () => {
    const ca = await openTestCa();
    const der = csrDer((await createDeviceKeyAndCsr('dev-1')).csrPem);
    const at = der.indexOf('dev-1');
    der.write('dev-2', at);
    await expectCode(ca.signCsr({ csrPem: csrPem(der), deviceId: 'dev-2' }), 'InvalidCsr');
  });

  it('refuses a CSR for another device with CsrSubjectMismatch', async () => {
    const ca = await openTestCa();
    const { csrPem: pem } = await createDeviceKeyAndCsr('dev-1');
    await expectCode(ca.signCsr({ csrPem: pem, deviceId: 'dev-2' }), 'CsrSubjectMismatch');
  });

  it('refuses an invalid device id or lifetime with InvalidRequest', async () => {
    const ca = await openTestCa();
    const { csrPem: pem } = await createDeviceKeyAndCsr('dev-1');
    await expectCode(ca.signCsr({ csrPem: pem, deviceId: 'dev/1' }), 'InvalidRequest');
    await expectCode(ca.signCsr({ csrPem: pem, deviceId: 'dev-1', lifetimeDays: 0 }), 'InvalidRequest');
    await expectCode(ca.signCsr({ csrPem: pem, deviceId: 'dev-1', lifetimeDays: 1.5 }), 'InvalidRequest');
  });

  it('never lets a certificate outlive the CA', async () => {
    const ca = await openTestCa();
    const { csrPem: pem } = await createDeviceKeyAndCsr('dev-1');
    const issued = await ca.signCsr({ csrPem: pem, deviceId: 'dev-1', now: afterDays(3600), lifetimeDays: 365 });
    expect(issued.notAfter).toEqual(new Date(ca.certificate.validTo));
  });
});
