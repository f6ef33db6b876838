/**
 * Arrangements shared by the certificate tests (test/certs-*.test.ts): certificates issued by a
 * running Baton, its MQTTS URL, mutual-TLS clients, and a connect attempt that reports how it
 * ended instead of throwing.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, expect } from 'vitest';
import { createCsr } from '../../device-sdk/csr.js';
import type { TestBaton } from './service.js';

export interface ClientCredentials {
  cert: string;
  key: string;
  ca: string;
  serial: string;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

export const mqttsUrl = (baton: TestBaton): string => `mqtts://127.0.0.1:${baton.service.ports().mqttsPort}`;

export const p256Key = (): KeyObject => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
export const rsaKey = (bits = 2048): KeyObject => generateKeyPairSync('rsa', { modulusLength: bits }).privateKey;
export const keyPem = (key: KeyObject): string => key.export({ type: 'pkcs8', format: 'pem' }).toString();

/** `POST /devices/{id}/certificates { generateKey: true }`: a P-256 key and its certificate. */
export async function generatedCredentials(baton: TestBaton, deviceId: string): Promise<ClientCredentials> {
  const res = await baton.api('POST', `/api/v1/devices/${deviceId}/certificates`, { generateKey: true });
  expect(res.status).toBe(201);
  return { cert: res.body.certificate, key: res.body.privateKey, ca: res.body.ca, serial: res.body.serial };
}

/** A CSR for `key` (CN = `cn`), signed by `POST /devices/{id}/certificates { csr }`. */
export async function csrCredentials(baton: TestBaton, deviceId: string, key: KeyObject, cn = deviceId): Promise<ClientCredentials> {
  const res = await baton.api('POST', `/api/v1/devices/${deviceId}/certificates`, { csr: await createCsr(cn, key) });
  expect(res.status).toBe(201);
  return { cert: res.body.certificate, key: keyPem(key), ca: res.body.ca, serial: res.body.serial };
}

/** Connects over mutual TLS with client id = `clientId` (closed at teardown by startBaton's helper). */
export function connectTls(baton: TestBaton, clientId: string, creds: Pick<ClientCredentials, 'cert' | 'key' | 'ca'>, extra: IClientOptions = {}): Promise<MqttClient> {
  return baton.connect({ url: mqttsUrl(baton), clientId, cert: creds.cert, key: creds.key, ca: creds.ca, ...extra });
}

/**
 * One connect attempt, and how it ended: `connected`, `refused:<CONNACK code>`, `closed` (the
 * server dropped the connection before CONNACK, as after a refused TLS handshake), or `error:<code>`.
 */
export function tryConnect(url: string, options: IClientOptions): Promise<string> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    const done = (outcome: string) => {
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.end(true);
      resolve(outcome);
    };
    client.once('connect', () => done('connected'));
    client.once('close', () => done('closed'));
    client.once('error', (err: Error & { code?: unknown }) => {
      if (typeof err.code === 'number') return done(`refused:${err.code}`);
      // A reset after the handshake is the server dropping the connection, as `close` is.
      done(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'closed' : `error:${String(err.code ?? err.message)}`);
    });
  });
}

/** The value of one Prometheus sample (0 when absent). */
export async function metricValue(baton: TestBaton, sample: string): Promise<number> {
  const text = (await baton.api('GET', '/metrics')).body as string;
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/** A temp dir removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'baton-certs-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes files into a temp dir removed after the test; returns their paths by name. */
export function tempFiles<K extends string>(files: Record<K, string>): Record<K, string> {
  const dir = tempDir();
  return Object.fromEntries(Object.entries<string>(files).map(([name, content]) => {
    writeFileSync(join(dir, name), content, { mode: 0o600 });
    return [name, join(dir, name)];
  })) as Record<K, string>;
}

/** `openssl verify -CAfile` of a certificate against the CA bundle; the output, e.g. `…: OK`. */
export function opensslVerify(caPem: string, certPem: string): { status: number | null; output: string } {
  const paths = tempFiles({ 'ca.pem': caPem, 'cert.pem': certPem });
  const run = spawnSync('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', paths['ca.pem'], paths['cert.pem']], { encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}
