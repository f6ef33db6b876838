import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { expectCode, openTestCa, openssl, opensslVerify, writeFiles } from './test-support.js';

/** Runs `openssl pkcs12` with OpenSSL 3 defaults (no -legacy) on a base64 PKCS#12. */
function pkcs12(base64: string, password: string, ...args: string[]) {
  const { p12 } = writeFiles({ p12: Buffer.from(base64, 'base64') });
  return openssl(['pkcs12', '-in', p12, '-passin', `pass:${password}`, ...args]);
}
const openPkcs12 = (base64: string, password: string) => pkcs12(base64, password, '-nodes');

const certificatesIn = (pem: string): X509Certificate[] =>
  (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b));

describe('generateDeviceCredentials', () => {
  it('returns a P-256 key, its device certificate, and a PKCS#12 that openssl opens', async () => {
    const ca = await openTestCa();
    const creds = await ca.generateDeviceCredentials({ deviceId: 'dev-1', password: 's3cret pass' });
    const cert = new X509Certificate(creds.certificatePem);
    const key = createPrivateKey(creds.privateKeyPem);

    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.checkPrivateKey(key)).toBe(true);
    expect(ca.verifyDeviceCertificate(cert)).toBe('dev-1');
    expect(opensslVerify(ca.chainPem, creds.certificatePem).stdout.trim()).toMatch(/: OK$/);

    const opened = openPkcs12(creds.pkcs12Base64, 's3cret pass');
    expect(opened.status).toBe(0);
    const [leaf, issuer] = certificatesIn(opened.stdout);
    expect(leaf?.raw).toEqual(cert.raw);
    expect(issuer?.raw).toEqual(ca.certificate.raw);
    expect(opened.stdout).toMatch(/friendlyName: dev-1/);
    const bundledKey = opened.stdout.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/)?.[0] ?? '';
    expect(cert.checkPrivateKey(createPrivateKey(bundledKey))).toBe(true);
  });

  it('uses modern PKCS#12 algorithms (AES-256, SHA-256 MAC) and refuses a wrong password', async () => {
    const ca = await openTestCa();
    const creds = await ca.generateDeviceCredentials({ deviceId: 'dev-1', password: 'right' });
    const details = pkcs12(creds.pkcs12Base64, 'right', '-info', '-noout');

    expect(details.stderr).toMatch(/MAC: sha256/);
    expect(details.stderr).toMatch(/PBES2, PBKDF2, AES-256-CBC/);
    expect(openPkcs12(creds.pkcs12Base64, 'wrong').status).not.toBe(0);
  });

  it('refuses an invalid device id or an empty password with InvalidRequest', async () => {
    const ca = await openTestCa();
    await expectCode(ca.generateDeviceCredentials({ deviceId: 'a/b', password: 'pw' }), 'InvalidRequest');
    await expectCode(ca.generateDeviceCredentials({ deviceId: 'dev-1', password: '' }), 'InvalidRequest');
  });
});

describe('issueClaimCertificate', () => {
  it('issues a claim certificate, with a PKCS#12 only when a password is given', async () => {
    const ca = await openTestCa();
    const plain = await ca.issueClaimCertificate({ templateName: 'factory-a' });
    const bundled = await ca.issueClaimCertificate({ templateName: 'factory-a', password: 'pw' });

    expect(plain.pkcs12Base64).toBeUndefined();
    const identity = ca.verifyClientCertificate(plain.certificatePem);
    expect(identity).toMatchObject({ kind: 'claim', templateName: 'factory-a' });
    expect(openPkcs12(bundled.pkcs12Base64 ?? '', 'pw').status).toBe(0);
    await expectCode(ca.issueClaimCertificate({ templateName: 'bad/name' }), 'InvalidRequest');
  });
});
