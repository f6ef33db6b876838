import { describe, expect, it } from 'vitest';
import { createDeviceKeyAndCsr, x509 } from '../device-sdk/csr.js';
import type { FleetCa } from './fleet-ca.js';
import { afterDays, expectCode, openTestCa, openssl, opensslVerify, T0, writeFiles } from './test-support.js';

async function issue(ca: FleetCa, deviceId: string) {
  const { csrPem } = await createDeviceKeyAndCsr(deviceId);
  return ca.signCsr({ csrPem, deviceId });
}

/** `aa:bb:CC` spelling, as an operator might paste it from `openssl x509 -serial`. */
const colonUpper = (serial: string): string => (serial.match(/../g) ?? []).join(':').toUpperCase();

describe('buildCrl', () => {
  it('lists every revoked serial, signed by the CA, with the requested update window', async () => {
    const ca = await openTestCa();
    const [a, b] = [await issue(ca, 'dev-a'), await issue(ca, 'dev-b')];
    const revokedAt = afterDays(-1);
    const pem = await ca.buildCrl({
      revoked: [
        { serial: a.serial, revokedAt },
        { serial: colonUpper(b.serial), revokedAt, reason: 'keyCompromise' },
        { serial: a.serial, revokedAt },
      ],
      nextUpdateHours: 12,
    });
    const crl = new x509.X509Crl(pem);

    expect(crl.entries.map((entry) => entry.serialNumber).sort()).toEqual([a.serial, b.serial].sort());
    expect(pem).toMatch(/^-----BEGIN X509 CRL-----/);
    expect(crl.entries[0]?.revocationDate).toEqual(revokedAt);
    expect(crl.findRevoked(b.serial)?.reason).toBe(x509.X509CrlReason.keyCompromise);
    expect(crl.findRevoked(a.serial)?.reason).toBe(x509.X509CrlReason.unspecified);
    expect(crl.thisUpdate).toEqual(T0);
    expect(crl.nextUpdate).toEqual(afterDays(0.5));
    expect(crl.issuer).toBe('CN=Baton Fleet CA');
    expect(await crl.verify({ publicKey: new x509.X509Certificate(ca.certificate.toString()) })).toBe(true);
    expect(crl.getExtension('2.5.29.20')).not.toBeNull();
  });

  it('makes openssl refuse the revoked certificate and accept the others', async () => {
    const ca = await openTestCa();
    const [revoked, kept] = [await issue(ca, 'dev-a'), await issue(ca, 'dev-b')];
    const crl = writeFiles({ 'crl.pem': await ca.buildCrl({ revoked: [{ serial: revoked.serial, revokedAt: T0 }] }) });
    const checkCrl = ['-crl_check', '-CRLfile', crl['crl.pem']];
    const caFile = writeFiles({ 'ca.pem': ca.chainPem })['ca.pem'];

    expect(openssl(['crl', '-in', crl['crl.pem'], '-noout', '-CAfile', caFile]).stderr).toMatch(/verify OK/);
    expect(opensslVerify(ca.chainPem, revoked.certificatePem, checkCrl).stderr).toMatch(/certificate revoked/);
    expect(opensslVerify(ca.chainPem, kept.certificatePem, checkCrl).stdout.trim()).toMatch(/: OK$/);
  });

  it('builds an empty CRL when nothing is revoked', async () => {
    const ca = await openTestCa();
    expect(new x509.X509Crl(await ca.buildCrl({ revoked: [] })).entries).toEqual([]);
  });

  it('refuses a serial that is not hex, or a non-positive window, with InvalidRequest', async () => {
    const ca = await openTestCa();
    await expectCode(ca.buildCrl({ revoked: [{ serial: 'xyz', revokedAt: T0 }] }), 'InvalidRequest');
    await expectCode(ca.buildCrl({ revoked: [], nextUpdateHours: 0 }), 'InvalidRequest');
  });
});
