/**
 * The fleet CA wired into a real TLS listener, the way the broker should do it: the handshake
 * refuses certificates from elsewhere, and the connection handler asks the CA whose one it is.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { FleetCa } from './fleet-ca.js';
import { ensureServerCertificate } from './server-cert.js';
import { openTestCa, tempDir } from './test-support.js';

interface Credentials {
  certificatePem: string;
  privateKeyPem: string;
}

/** Records the device ids admitted and the handshakes refused. */
async function startListener(ca: FleetCa, crl?: string) {
  const server = await ensureServerCertificate(ca, { dir: tempDir() });
  const admitted: string[] = [];
  const refused: Error[] = [];
  const options = { cert: server.certificatePem, key: server.privateKeyPem, ca: ca.chainPem, ...(crl ? { crl } : {}) };
  const listener = tls.createServer({ ...options, requestCert: true, rejectUnauthorized: true }, (socket) => {
    try {
      const peer = socket.getPeerX509Certificate();
      if (!peer) throw new Error('no client certificate');
      admitted.push(ca.verifyDeviceCertificate(peer));
      socket.end('hello');
    } catch {
      socket.destroy();
    }
  });
  listener.on('tlsClientError', (err) => refused.push(err));
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  onTestFinished(() => new Promise<void>((resolve) => listener.close(() => resolve())));
  return { port: (listener.address() as AddressInfo).port, admitted, refused };
}

/** Connects as a device; resolves with what the server said, or the error that ended it. */
function connect(port: number, caPem: string, client: Credentials): Promise<string> {
  const { certificatePem: cert, privateKeyPem: key } = client;
  const socket = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: caPem, cert, key });
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  return new Promise((resolve) => {
    socket.on('error', (err) => resolve(`error: ${err.message}`));
    socket.on('close', () => resolve(received));
  });
}

// OpenSSL checks validity on the real clock, so these CAs run on it too.
const realClock = { clock: () => new Date() };

describe('a TLS listener wired with the fleet CA', () => {
  it('admits a device and reads its id from the peer certificate', async () => {
    const ca = await openTestCa(realClock);
    const { port, admitted } = await startListener(ca);
    const device = await ca.generateDeviceCredentials({ deviceId: 'dev-7', password: 'pw' });

    expect(await connect(port, ca.chainPem, device)).toBe('hello');
    expect(admitted).toEqual(['dev-7']);
  });

  it('refuses in the handshake a client certificate from another CA', async () => {
    const ca = await openTestCa(realClock);
    const otherCa = await openTestCa(realClock);
    const stranger = await otherCa.generateDeviceCredentials({ deviceId: 'dev-7', password: 'pw' });
    const { port, admitted, refused } = await startListener(ca);

    expect(await connect(port, ca.chainPem, stranger)).toBe('');
    expect(admitted).toEqual([]);
    // Node's server destroys the socket without a reason; the handler never runs.
    expect(refused.map((err) => err.message)).toEqual(['socket hang up']);
  });

  it('lets a claim certificate through the handshake but not past the device check', async () => {
    const ca = await openTestCa(realClock);
    const { port, admitted } = await startListener(ca);
    const claim = await ca.issueClaimCertificate({ templateName: 'factory-a' });

    expect(await connect(port, ca.chainPem, claim)).toBe('');
    expect(admitted).toEqual([]);
  });

  it('refuses in the handshake a revoked device when the listener has the CRL', async () => {
    const ca = await openTestCa(realClock);
    const revoked = await ca.generateDeviceCredentials({ deviceId: 'dev-1', password: 'pw' });
    const kept = await ca.generateDeviceCredentials({ deviceId: 'dev-2', password: 'pw' });
    const crl = await ca.buildCrl({ revoked: [{ serial: revoked.serial, revokedAt: new Date() }] });
    const { port, admitted } = await startListener(ca, crl);

    expect(await connect(port, ca.chainPem, revoked)).toBe('');
    expect(await connect(port, ca.chainPem, kept)).toBe('hello');
    expect(admitted).toEqual(['dev-2']);
  });
});
