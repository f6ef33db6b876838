/**
 * Starts a real Baton service on port 0 with a SQLite file in a temp dir, and owns its teardown:
 * a test body is arrange, act, assert.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach } from 'vitest';
import { parseConfig, type ConfigInput } from '../../broker/config.js';
import { buildService, type BatonService, type ServiceOptions } from '../../broker/service.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef0123456789';

export interface TestBaton {
  service: BatonService;
  dataDir: string;
  mqttUrl: string;
  httpUrl: string;
  wsUrl: string;
  mqttPort: number;
  httpPort: number;
  /** Calls the admin API with the admin token (or `token`); returns status, headers and parsed body. */
  api<T = any>(method: string, path: string, body?: unknown, token?: string): Promise<ApiResponse<T>>;
  /** Registers a device and returns its id and secret. */
  createDevice(id: string, extra?: Record<string, unknown>): Promise<{ id: string; secret: string }>;
  /** Connects a real mqtt.js client; closed at teardown. */
  connect(options: IClientOptions & { url?: string }): Promise<MqttClient>;
  /** Connects as a registered device (client id = username = device id). */
  connectDevice(device: { id: string; secret: string }, options?: IClientOptions): Promise<MqttClient>;
  /** Stops the service (the temp dir stays until teardown, so it can be restarted). */
  stop(): Promise<void>;
  /** Builds a new service on the same data dir. */
  restart(overrides?: ConfigInput): Promise<TestBaton>;
}

export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

export async function startBaton(overrides: ConfigInput = {}, options: ServiceOptions & { dataDir?: string } = {}): Promise<TestBaton> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'baton-test-'));
  if (!options.dataDir) cleanups.unshift(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = parseConfig({ dataDir, host: '127.0.0.1', mqttPort: 0, httpPort: 0, mqttsPort: 0, adminToken: ADMIN_TOKEN, logLevel: 'silent', ...overrides });
  const service = await buildService(config, options);
  const { mqttPort, httpPort } = await service.listen();
  let stopped = false;
  const clients: MqttClient[] = [];
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await service.close();
  };
  cleanups.push(stop);

  const baton: TestBaton = {
    service, dataDir, mqttPort, httpPort,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    wsUrl: `ws://127.0.0.1:${httpPort}/mqtt`,
    async api(method, path, body, token = ADMIN_TOKEN) {
      const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON (e.g. /metrics); keep the text
      }
      return { status: res.status, headers: res.headers, body: parsed as any };
    },
    async createDevice(id, extra = {}) {
      const res = await baton.api('POST', '/api/v1/devices', { id, ...extra });
      if (res.status !== 201) throw new Error(`createDevice ${id}: ${res.status} ${JSON.stringify(res.body)}`);
      return { id, secret: res.body.secret as string };
    },
    async connect({ url, ...opts }) {
      const client = await mqtt.connectAsync(url ?? baton.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
      clients.push(client);
      return client;
    },
    connectDevice(device, opts = {}) {
      return baton.connect({ clientId: device.id, username: device.id, password: device.secret, ...opts });
    },
    stop,
    async restart(next = {}) {
      await stop();
      return startBaton({ ...overrides, ...next }, { ...options, dataDir });
    },
  };
  return baton;
}

/** Resolves with the next message on `topic` (exact or filter) received by `client`. */
export function nextMessage(client: MqttClient, predicate: (topic: string) => boolean, timeoutMs = 5000): Promise<{ topic: string; payload: Buffer; json: any }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error('timed out waiting for a message'));
    }, timeoutMs);
    const onMessage = (topic: string, payload: Buffer) => {
      if (!predicate(topic)) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      let json: unknown;
      try {
        json = JSON.parse(payload.toString());
      } catch {
        json = undefined;
      }
      resolve({ topic, payload, json });
    };
    client.on('message', onMessage);
  });
}

/** Polls `check` until it returns a value other than undefined (for state that settles asynchronously). */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * SUBSCRIBE and return the SUBACK's granted codes, including 0x80 refusals (mqtt.js rejects the
 * whole call when any filter is refused, with the SUBACK attached).
 */
export async function subscribeGranted(client: MqttClient, filters: string[], qos: 0 | 1 | 2 = 1): Promise<number[]> {
  try {
    const granted = await client.subscribeAsync(filters, { qos });
    return granted.map((g) => g.qos);
  } catch (err) {
    const packet = (err as { packet?: { granted?: number[] } }).packet;
    if (!packet?.granted) throw err;
    return packet.granted;
  }
}

/** Resolves when the client's connection closes (e.g. the broker dropped it). */
export const whenClosed = (client: MqttClient): Promise<void> => new Promise((resolve) => client.once('close', () => resolve()));
