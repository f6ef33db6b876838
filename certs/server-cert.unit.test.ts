import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureServerCertificate, loadServerCertificate, SERVER_CERT_FILE, SERVER_KEY_FILE } from './server-cert.js';
import { afterDays, expectCode, openTestCa, tempDir, writeFiles } from './test-support.js';

describe('ensureServerCertificate', () => {
  it('issues localhost/127.0.0.1 by default, stores it with a 0600 key, and reuses it next start', async () => {
    const ca = await openTestCa();
    const dir = tempDir();
    const first = await ensureServerCertificate(ca, { dir });
    const second = await ensureServerCertificate(ca, { dir });
    const cert = new X509Certificate(first.certificatePem);

    expect([first.reused, second.reused]).toEqual([false, true]);
    expect(second.certificatePem).toBe(first.certificatePem);
    expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(statSync(join(dir, SERVER_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, SERVER_CERT_FILE), 'utf8')).toBe(first.certificatePem);
  });

  it('reissues when a host is added, when renewal is due, or when the CA changed', async () => {
    const ca = await openTestCa();
    const dir = tempDir();
    await ensureServerCertificate(ca, { dir });
    const renamed = await ensureServerCertificate(ca, { dir, hostnames: ['localhost', 'broker.example.com', '::1'] });
    const late = await ensureServerCertificate(ca, { dir, hostnames: ['localhost'], now: afterDays(340) });
    const otherCa = await ensureServerCertificate(await openTestCa(), { dir, hostnames: ['localhost'] });

    expect(renamed.reused).toBe(false);
    expect(new X509Certificate(renamed.certificatePem).checkHost('broker.example.com')).toBe('broker.example.com');
    expect(new X509Certificate(renamed.certificatePem).checkIP('::1')).toBe('::1');
    expect([late.reused, otherCa.reused]).toEqual([false, false]);
  });

  it('encrypts the stored key with the passphrase and refuses bad host names', async () => {
    const ca = await openTestCa();
    const dir = tempDir();
    await ensureServerCertificate(ca, { dir, passphrase: 'pw' });
    expect(readFileSync(join(dir, SERVER_KEY_FILE), 'utf8')).toMatch(/ENCRYPTED PRIVATE KEY/);
    expect((await ensureServerCertificate(ca, { dir, passphrase: 'pw' })).reused).toBe(true);
    await expectCode(ensureServerCertificate(ca, { dir, hostnames: ['bad host'] }), 'InvalidRequest');
    await expectCode(ensureServerCertificate(ca, { dir, hostnames: [] }), 'InvalidRequest');
  });
});

describe('loadServerCertificate', () => {
  it("loads an operator's certificate and key, and refuses a key of another certificate", async () => {
    const ca = await openTestCa();
    const a = await ca.issueServerCertificate({ hostnames: ['a'] });
    const b = await ca.issueServerCertificate({ hostnames: ['b'] });
    const files = writeFiles({ 'a.pem': a.certificatePem, 'a.key': a.privateKeyPem, 'b.key': b.privateKeyPem });

    const loaded = loadServerCertificate({ certPath: files['a.pem'], keyPath: files['a.key'] });
    expect(loaded).toEqual({ certificatePem: a.certificatePem, privateKeyPem: a.privateKeyPem });
    expect(() => loadServerCertificate({ certPath: files['a.pem'], keyPath: files['b.key'] })).toThrow(
      expect.objectContaining({ reason: 'KeyMismatch' }),
    );
  });
});
