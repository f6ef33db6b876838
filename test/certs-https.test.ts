/**
 * The admin API over HTTPS (BATON_HTTPS_PORT) with MQTT over secure WebSocket at `/mqtt`:
 * devices log in there by client certificate too, and a foreign certificate is refused before the
 * WebSocket upgrade.
 */
import { request } from 'node:https';
import { describe, expect, it } from 'vitest';
import { openFleetCa } from '../certs/index.js';
import { generatedCredentials, metricValue, tempDir, tryConnect } from './helpers/certs.js';
import { startBaton } from './helpers/service.js';

function httpsGet(port: number, path: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS and MQTT over secure WebSocket', () => {
  it('serves the admin API over HTTPS and logs devices in over WSS by certificate', async () => {
    const baton = await startBaton({ httpsPort: 0 });
    await baton.createDevice('dev-1');
    const creds = await generatedCredentials(baton, 'dev-1');
    const port = baton.service.ports().httpsPort!;
    const wssUrl = `wss://127.0.0.1:${port}/mqtt`;

    expect(await httpsGet(port, '/healthz', creds.ca)).toMatchObject({ status: 200 });
    expect((await httpsGet(port, '/api/v1/ca', creds.ca)).body).toBe(creds.ca);
    expect(await tryConnect(wssUrl, { clientId: 'dev-1', ...creds })).toBe('connected');
    const [connection] = await baton.service.store.connections.recent('dev-1', 2);
    expect(connection?.transport).toBe('wss');

    const stranger = await (await openFleetCa({ dir: tempDir() })).generateDeviceCredentials({ deviceId: 'dev-1', password: 'pw' });
    expect(await tryConnect(wssUrl, { clientId: 'dev-1', cert: stranger.certificatePem, key: stranger.privateKeyPem, ca: creds.ca })).toBe('closed');
    expect(await metricValue(baton, 'baton_auth_failures_total{reason="tls-UNABLE_TO_VERIFY_LEAF_SIGNATURE"}')).toBe(1);
  });

  it('is off unless BATON_HTTPS_PORT is set', async () => {
    const baton = await startBaton();
    expect(baton.service.ports().httpsPort).toBeUndefined();
  });
});
