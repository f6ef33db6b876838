import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCsr, createDeviceKeyAndCsr, keyKind, x509 } from './csr.js';
import { BatonError } from './protocol/errors.js';

/** `openssl req` on a PEM CSR given on stdin. */
const opensslReq = (csrPem: string, ...args: string[]) =>
  spawnSync('openssl', ['req', '-noout', ...args], { input: csrPem, encoding: 'utf8' });

describe('createDeviceKeyAndCsr', () => {
  it('creates a P-256 PKCS#8 key and a CSR for the device id that openssl verifies', async () => {
    const { privateKeyPem, csrPem } = await createDeviceKeyAndCsr('dev-1');
    const key = createPrivateKey(privateKeyPem);
    const verified = opensslReq(csrPem, '-verify', '-subject');

    expect(privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(keyKind(key)).toBe('ec-p256');
    expect(verified.status).toBe(0);
    expect(verified.stdout.trim()).toBe('subject=CN = dev-1');
    expect(csrPem.endsWith('-----END CERTIFICATE REQUEST-----\n')).toBe(true);
    const csrKey = new x509.Pkcs10CertificateRequest(csrPem).publicKey.rawData;
    expect(Buffer.from(csrKey)).toEqual(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  });

  it('refuses an id that is not one topic level with InvalidRequest', async () => {
    await expect(createDeviceKeyAndCsr('a/b')).rejects.toMatchObject({ code: 'InvalidRequest' });
    await expect(createDeviceKeyAndCsr('')).rejects.toBeInstanceOf(BatonError);
  });
});

describe('createCsr', () => {
  it('signs with an existing RSA key using SHA-256', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const csrPem = await createCsr('dev-rsa', privateKey);
    expect(opensslReq(csrPem, '-verify').status).toBe(0);
    expect(opensslReq(csrPem, '-text').stdout).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
  });

  it('refuses a key kind Baton does not sign with', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    await expect(createCsr('dev-1', privateKey)).rejects.toMatchObject({ code: 'WeakKey' });
  });
});

describe('keyKind', () => {
  it.each([
    ['P-256', 'ec-p256'],
    ['P-384', 'ec-p384'],
    ['secp256k1', undefined],
  ])('names an EC %s key %s', (namedCurve, kind) => {
    expect(keyKind(generateKeyPairSync('ec', { namedCurve }).privateKey)).toBe(kind);
  });
});
