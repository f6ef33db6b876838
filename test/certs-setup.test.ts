/**
 * The CA and TLS material at start: created in the data dir on first start (keys 0600,
 * encrypted with BATON_CA_PASSPHRASE), reused after a restart, or the operator's own CA and
 * server certificate given by path; a bad setup stops start-up with a stable reason.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CertSetupError, ensureServerCertificate, openFleetCa } from '../certs/index.js';
import { parseConfig } from '../broker/config.js';
import { buildService } from '../broker/service.js';
import { generatedCredentials, mqttsUrl, tempDir, tempFiles, tryConnect } from './helpers/certs.js';
import { startBaton } from './helpers/service.js';

const mode = (path: string) => statSync(path).mode & 0o777;

/** Builds (never listens) a service on `dataDir`; resolves with the start-up error, if any. */
async function buildError(dataDir: string, overrides: Record<string, unknown>): Promise<unknown> {
  const config = parseConfig({ dataDir, host: '127.0.0.1', mqttPort: 0, httpPort: 0, mqttsPort: 0, logLevel: 'silent', ...overrides });
  return buildService(config).then(async (service) => {
    await service.close();
    return undefined;
  }, (err: unknown) => err);
}

describe('the CA at start', () => {
  it('is created on first start with 0600 keys encrypted by the passphrase, and reused after a restart', async () => {
    const baton = await startBaton({ caPassphrase: 'open sesame' });
    const ca = join(baton.dataDir, 'ca');
    expect([mode(join(ca, 'ca-key.pem')), mode(join(ca, 'server-key.pem'))]).toEqual([0o600, 0o600]);
    expect(readFileSync(join(ca, 'ca-key.pem'), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    await baton.createDevice('dev-1');
    const creds = await generatedCredentials(baton, 'dev-1');

    const again = await baton.restart();
    expect(await (await fetch(`${again.httpUrl}/api/v1/ca`)).text()).toBe(creds.ca);
    expect(await tryConnect(mqttsUrl(again), { clientId: 'dev-1', ...creds })).toBe('connected');
  });

  it('refuses to start with a wrong passphrase, or with half a pair of paths', async () => {
    const baton = await startBaton({ caPassphrase: 'open sesame' });
    await baton.stop();

    expect(await buildError(baton.dataDir, { caPassphrase: 'wrong' })).toMatchObject({ name: 'CertSetupError', reason: 'WrongPassphrase' });
    expect(await buildError(baton.dataDir, {})).toMatchObject({ reason: 'PassphraseRequired' });
    expect(await buildError(tempDir(), { caCert: '/nowhere/ca.pem' })).toBeInstanceOf(CertSetupError);
    expect(await buildError(tempDir(), { tlsKey: '/nowhere/key.pem' })).toMatchObject({ reason: 'Incomplete' });
  });

  it("issues with an operator's CA and serves an operator's server certificate, given by path", async () => {
    // Two operator CAs: one signed the server certificate, the other is the intermediate Baton issues with.
    const serverCa = await openFleetCa({ dir: join(tempDir(), 'server-ca'), commonName: 'Operator Server CA' });
    const server = await ensureServerCertificate(serverCa, { dir: tempDir(), hostnames: ['127.0.0.1'] });
    const deviceCaDir = join(tempDir(), 'device-ca');
    const deviceCa = await openFleetCa({ dir: deviceCaDir, commonName: 'Operator Device CA' });
    const files = tempFiles({ 'server.pem': server.certificatePem, 'server-key.pem': server.privateKeyPem });

    const baton = await startBaton({
      caCert: join(deviceCaDir, 'ca.pem'), caKey: join(deviceCaDir, 'ca-key.pem'), tlsCert: files['server.pem'], tlsKey: files['server-key.pem'],
    });
    await baton.createDevice('dev-1');
    const creds = await generatedCredentials(baton, 'dev-1');
    expect(creds.ca).toBe(deviceCa.chainPem);
    expect(await tryConnect(mqttsUrl(baton), { clientId: 'dev-1', cert: creds.cert, key: creds.key, ca: serverCa.chainPem })).toBe('connected');
  });
});
