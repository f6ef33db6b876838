import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDeviceKeyAndCsr } from '../device-sdk/csr.js';
import { CA_CERT_FILE, CA_KEY_FILE } from './ca-store.js';
import { splitCertificates } from './pem-files.js';
import { ensureServerCertificate } from './server-cert.js';
import type { CertSetupError } from './setup-error.js';
import { openFleetCa, type FleetCaOptions } from './fleet-ca.js';
import { afterDays, openssl, opensslVerify, T0, tempDir, writeFiles } from './test-support.js';

const options = (extra: Partial<FleetCaOptions> = {}): FleetCaOptions => ({
  dir: join(tempDir(), 'data'),
  clock: () => T0,
  ...extra,
});

const CA_USAGE = 'keyUsage=critical,keyCertSign,cRLSign';
const INTERMEDIATE_EXTENSIONS = ['basicConstraints=critical,CA:true,pathlen:0', CA_USAGE, 'subjectKeyIdentifier=hash'];

/** An operator's PKI made by openssl: an EC root and an RSA intermediate with O and CN. */
function operatorPki() {
  const dir = tempDir();
  const at = (name: string) => join(dir, name);
  const pem = (name: string) => readFileSync(at(name), 'utf8');
  const run = (...args: string[]) => expect(openssl(args).status).toBe(0);
  writeFileSync(at('ext.cnf'), [...INTERMEDIATE_EXTENSIONS, 'authorityKeyIdentifier=keyid'].join('\n'));
  run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', at('root.key'));
  run('req', '-x509', '-key', at('root.key'), '-out', at('root.pem'), '-days', '3650', '-subj', '/CN=Operator Root',
    '-addext', 'basicConstraints=critical,CA:true', '-addext', CA_USAGE);
  run('req', '-new', '-newkey', 'rsa:2048', '-noenc', '-keyout', at('int.key'), '-out', at('int.csr'),
    '-subj', '/O=Operator/CN=Operator Devices CA');
  run('x509', '-req', '-in', at('int.csr'), '-CA', at('root.pem'), '-CAkey', at('root.key'), '-out', at('int.pem'),
    '-days', '3650', '-extfile', at('ext.cnf'));
  writeFileSync(at('bundle.pem'), pem('int.pem') + pem('root.pem'));
  return {
    rootPem: pem('root.pem'),
    intermediatePem: pem('int.pem'),
    intermediate: at('int.pem'),
    key: at('int.key'),
    rootKey: at('root.key'),
    bundle: at('bundle.pem'),
  };
}

describe('creating and loading the CA', () => {
  it('creates an ECDSA P-256 root with a 0600 key on first start and reloads it after', async () => {
    const opts = options();
    const first = await openFleetCa(opts);
    const second = await openFleetCa(opts);

    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.certificate.raw).toEqual(first.certificate.raw);
    expect(statSync(join(opts.dir, CA_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(opts.dir).mode & 0o777).toBe(0o700);
    expect(first.certificate.subject).toBe('CN=Baton Fleet CA');
    expect(first.certificate.ca).toBe(true);
    expect(first.certificate.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(first.certificate.checkIssued(first.certificate)).toBe(true);
    expect(first.intermediatesPem).toBe('');
  });

  it('encrypts the key with a passphrase, in a form openssl reads, and needs it to reload', async () => {
    const opts = options({ passphrase: 'correct horse' });
    await openFleetCa(opts);
    const keyPath = join(opts.dir, CA_KEY_FILE);

    expect(readFileSync(keyPath, 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    expect(openssl(['pkey', '-in', keyPath, '-passin', 'pass:correct horse', '-noout']).status).toBe(0);
    expect((await openFleetCa(opts)).created).toBe(false);
    const reasonOf = (passphrase?: string) =>
      openFleetCa({ ...opts, passphrase }).catch((err: CertSetupError) => err.reason);
    expect(await reasonOf('wrong')).toBe('WrongPassphrase');
    expect(await reasonOf(undefined)).toBe('PassphraseRequired');
  });

  it('refuses a data directory holding only half of the CA', async () => {
    const opts = options();
    await openFleetCa(opts);
    rmSync(join(opts.dir, CA_CERT_FILE));
    await expect(openFleetCa(opts)).rejects.toMatchObject({ reason: 'Incomplete' });
  });

  it('refuses to start with an expired CA', async () => {
    const opts = options();
    await openFleetCa(opts);
    await expect(openFleetCa({ ...opts, clock: () => afterDays(3651) })).rejects.toMatchObject({ reason: 'Expired' });
  });

  it("issues under an operator's RSA intermediate, and openssl chains the result to their root", async () => {
    const pki = operatorPki();
    const ca = await openFleetCa(options({ existing: { certPath: pki.bundle, keyPath: pki.key } }));
    const { csrPem } = await createDeviceKeyAndCsr('dev-1');
    const issued = await ca.signCsr({ csrPem, deviceId: 'dev-1' });

    expect(new X509Certificate(issued.certificatePem).issuer).toBe('O=Operator\nCN=Operator Devices CA');
    expect(ca.intermediatesPem).toBe(new X509Certificate(pki.intermediatePem).toString());
    const result = opensslVerify(pki.rootPem, issued.certificatePem, ['-untrusted', pki.intermediate]);
    expect(result.stdout.trim()).toMatch(/: OK$/);
    expect(ca.verifyDeviceCertificate(issued.certificatePem)).toBe('dev-1');
    const server = await ensureServerCertificate(ca, { dir: tempDir() });
    expect(splitCertificates(server.certificatePem).map((pem) => new X509Certificate(pem).subject)).toEqual([
      'CN=localhost',
      'O=Operator\nCN=Operator Devices CA',
    ]);
  });

  it('refuses operator files that do not make a CA', async () => {
    const pki = operatorPki();
    const mismatch = { certPath: pki.bundle, keyPath: pki.rootKey };
    await expect(openFleetCa(options({ existing: mismatch }))).rejects.toMatchObject({ reason: 'KeyMismatch' });

    const leafCa = await openFleetCa(options());
    const leaf = await leafCa.generateDeviceCredentials({ deviceId: 'dev-1', password: 'pw' });
    const files = writeFiles({ 'leaf.pem': leaf.certificatePem, 'leaf.key': leaf.privateKeyPem });
    const notCa = { certPath: files['leaf.pem'], keyPath: files['leaf.key'] };
    await expect(openFleetCa(options({ existing: notCa }))).rejects.toMatchObject({ reason: 'NotACa' });
  });
});
