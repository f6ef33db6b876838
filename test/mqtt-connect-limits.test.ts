/**
 * Connection-storm limits (broker/mqtt/connect-limiter.ts) over real sockets:
 * BATON_MQTT_MAX_CONNECTS_PER_SEC paces CONNECTs past the rate (up to BATON_MQTT_CONNECT_WAIT_MS)
 * and answers CONNACK 3 beyond, which clients retry with backoff;
 * BATON_MQTT_MAX_PENDING_CONNECTS_PER_ADDRESS closes sockets past the cap at once.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { nextDelay } from '../device-sdk/backoff.js';
import { connect, type DeviceClient } from '../device-sdk/index.js';
import type { BatonError } from '../device-sdk/protocol/errors.js';
import { connectPacket, rawConnack } from './helpers/raw-mqtt.js';
import { eventually, startBaton, type TestBaton } from './helpers/service.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function metric(baton: TestBaton, line: string): Promise<number> {
  const text = (await baton.api('GET', '/metrics')).body as string;
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found === undefined ? 0 : Number(found.slice(line.length).trim());
}

const devicePacket = (d: { id: string; secret: string }) => connectPacket({ clientId: d.id, clean: true, username: d.id, password: d.secret });

describe('BATON_MQTT_MAX_CONNECTS_PER_SEC', () => {
  it('past the rate a burst gets CONNACK 3, and every device gets in on retry with jittered backoff', async () => {
    const baton = await startBaton({ mqttMaxConnectsPerSec: 5, mqttConnectWaitMs: 0 });
    const devices = await Promise.all(Array.from({ length: 20 }, (_, i) => baton.createDevice(`dev-${i}`)));

    const started = performance.now();
    const codes = await Promise.all(devices.map((d) => rawConnack(baton.mqttPort, devicePacket(d))));
    const burstS = (performance.now() - started) / 1000;
    const accepted = codes.filter((c) => c === 0).length;
    expect(codes.every((c) => c === 0 || c === 3)).toBe(true);
    expect(accepted).toBeGreaterThanOrEqual(5); // the bucket holds one second's worth
    expect(accepted).toBeLessThanOrEqual(5 + Math.ceil(burstS * 5)); // plus what refilled during the burst
    expect(await metric(baton, 'baton_connects_throttled_total{reason="rate"}')).toBe(20 - accepted);
    // Refused before authentication: no auth failure is counted for them.
    expect((await baton.api('GET', '/metrics')).body).not.toContain('baton_auth_failures_total{');

    // The refused ones retry like the SDK (full jitter, here a 200 ms base) until they are in.
    const refused = devices.filter((_, i) => codes[i] === 3);
    const attempts = await Promise.all(refused.map(async (d) => {
      for (let attempt = 0; ; attempt++) {
        await sleep(nextDelay(attempt, { minMs: 200, maxMs: 3200 }));
        if ((await rawConnack(baton.mqttPort, devicePacket(d))) === 0) return attempt + 1;
        if (attempt > 20) throw new Error(`${d.id} never got in`);
      }
    }));
    expect(attempts).toHaveLength(refused.length);
  }, 30_000);

  it('within the wait, CONNECTs past the rate are paced, not refused', async () => {
    const baton = await startBaton({ mqttMaxConnectsPerSec: 5, mqttConnectWaitMs: 5000 });
    const devices = await Promise.all(Array.from({ length: 15 }, (_, i) => baton.createDevice(`dev-${i}`)));
    const started = performance.now();
    const took = await Promise.all(devices.map(async (d) => {
      const code = await rawConnack(baton.mqttPort, devicePacket(d));
      return { code, ms: performance.now() - started };
    }));
    expect(took.map((t) => t.code)).toEqual(devices.map(() => 0));
    // 5 at once, then one every 200 ms: the last of 15 waits about 2 s.
    const sorted = took.map((t) => t.ms).sort((a, b) => a - b);
    expect(sorted[4]!).toBeLessThan(1000);
    expect(sorted[14]!).toBeGreaterThan(1700);
    expect(await metric(baton, 'baton_connects_throttled_total{reason="rate"}')).toBe(0);
  }, 20_000);

  it('the SDK retries a CONNACK 3 with its backoff: a fleet reconnecting into a cap all gets back', async () => {
    let baton = await startBaton();
    const clients: DeviceClient[] = [];
    const refusals: BatonError[] = [];
    for (let i = 0; i < 4; i++) {
      const { id, secret } = await baton.createDevice(`sdk-${i}`);
      const client = await connect({ url: baton.mqttUrl, deviceId: id, secret, reconnect: { minMs: 100, maxMs: 800 }, health: { enabled: false } });
      client.on('error', (err) => refusals.push(err as BatonError));
      onTestFinished(() => client.close());
      clients.push(client);
    }
    const back = clients.map((c) => new Promise<void>((resolve) => c.once('connect', () => resolve())));
    baton = await baton.restart({ mqttPort: baton.mqttPort, mqttMaxConnectsPerSec: 1, mqttConnectWaitMs: 0 });
    await Promise.all(back);
    expect(clients.every((c) => c.connected)).toBe(true);
    const busy = refusals.filter((e) => e.details?.returnCode === 3);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy[0]!.code).toBe('Unavailable');
  }, 30_000);
});

describe('BATON_MQTT_MAX_PENDING_CONNECTS_PER_ADDRESS', () => {
  /** Opens a socket and reports whether the broker closed it within `ms` (without sending anything). */
  async function open(baton: TestBaton): Promise<{ socket: Socket; closedWithin(ms: number): Promise<boolean> }> {
    const socket = tcpConnect(baton.mqttPort, '127.0.0.1');
    socket.on('error', () => undefined);
    onTestFinished(() => void socket.destroy());
    const closed = new Promise<true>((resolve) => socket.once('close', () => resolve(true)));
    await new Promise((resolve) => socket.once('connect', resolve));
    return { socket, closedWithin: (ms) => Promise.race([closed, sleep(ms).then(() => false)]) };
  }

  it('closes sockets past the cap at once; authenticating or closing one frees its place', async () => {
    const baton = await startBaton({ mqttMaxPendingConnectsPerAddress: 3 });
    const device = await baton.createDevice('dev-1');
    const pending = [await open(baton), await open(baton), await open(baton)];
    const extra = await open(baton);
    expect(await extra.closedWithin(1000)).toBe(true);
    for (const p of pending) expect(await p.closedWithin(50)).toBe(false);

    // One authenticates: it no longer counts.
    const connack = new Promise<Buffer>((resolve) => pending[0]!.socket.once('data', resolve));
    pending[0]!.socket.write(devicePacket(device));
    expect([...(await connack)]).toEqual([0x20, 2, 0, 0]);
    const fourth = await open(baton);
    expect(await fourth.closedWithin(300)).toBe(false);

    // One goes away: its place is free too.
    pending[1]!.socket.destroy();
    await sleep(100);
    const fifth = await open(baton);
    expect(await fifth.closedWithin(300)).toBe(false);
    const sixth = await open(baton);
    expect(await sixth.closedWithin(1000)).toBe(true);

    expect(await metric(baton, 'baton_connects_throttled_total{reason="pending-per-address"}')).toBe(2);
    // The device that authenticated is unaffected.
    expect(await eventually(async () => ((await baton.api('GET', '/api/v1/devices/dev-1')).body.status === 'online' ? true : undefined))).toBe(true);
  });
});
