import { describe, expect, it, onTestFinished } from 'vitest';
import { connect, topics, type DeviceClient } from '../device-sdk/index.js';
import { RecordingClock } from '../device-sdk/test-fixtures.js';
import { eventually, startBaton, type TestBaton } from './helpers/service.js';

/** Short backoff so a test reconnects quickly; the delays themselves are tested in backoff.unit.test.ts. */
const fastReconnect = { minMs: 20, maxMs: 200 };

async function device(baton: TestBaton, extra: Partial<Parameters<typeof connect>[0]> = {}) {
  const { secret } = await baton.createDevice('dev-1');
  const client = await connect({ url: baton.mqttUrl, deviceId: 'dev-1', secret, reconnect: fastReconnect, ...extra });
  onTestFinished(() => client.close());
  return client;
}

const next = (client: DeviceClient, event: 'connect' | 'disconnect') => new Promise<void>((resolve) => client.once(event, () => resolve()));

/** Stops the broker and waits until the client noticed. */
async function outage(baton: TestBaton, client: DeviceClient): Promise<void> {
  const down = next(client, 'disconnect');
  await baton.stop();
  await down;
  expect(client.connected).toBe(false);
}

/** Starts the broker again on the same MQTT port (a new HTTP port) and waits for the client. */
async function recovery(baton: TestBaton, client: DeviceClient): Promise<TestBaton> {
  const up = next(client, 'connect');
  const restarted = await baton.restart({ mqttPort: baton.mqttPort });
  await up;
  return restarted;
}

const telemetryData = async (baton: TestBaton) =>
  ((await baton.api('GET', '/api/v1/devices/dev-1/telemetry')).body.items as Array<{ data: unknown }>).map((i) => i.data).reverse();

describe('Device SDK: flaky links', () => {
  it('queues telemetry while offline and delivers it in order after reconnecting', async () => {
    const baton = await startBaton();
    const client = await device(baton);
    await client.telemetry({ n: 0 });
    await outage(baton, client);

    const sent = [1, 2, 3].map((n) => client.telemetry({ n }));
    expect(client.stats).toMatchObject({ queued: 3, dropped: 0, sent: 1 });

    const restarted = await recovery(baton, client);
    await Promise.all(sent);
    expect(await telemetryData(restarted)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }]);
    expect(client.stats).toEqual({ queued: 0, dropped: 0, sent: 4, inFlight: 0, reconnects: 1 });
  });

  it('drops the oldest telemetry when the offline queue is full, and counts it', async () => {
    const baton = await startBaton();
    const client = await device(baton, { offlineQueueLimit: 3 });
    await outage(baton, client);

    const sent = [1, 2, 3, 4, 5].map((n) => client.telemetry({ n }));
    await expect(sent[0]).rejects.toMatchObject({ code: 'RateLimited', details: { reason: 'offline-queue-full' } });
    await expect(sent[1]).rejects.toMatchObject({ code: 'RateLimited' });
    expect(client.stats).toMatchObject({ queued: 3, dropped: 2 });

    const restarted = await recovery(baton, client);
    await Promise.all(sent.slice(2));
    expect(await telemetryData(restarted)).toEqual([{ n: 3 }, { n: 4 }, { n: 5 }]);
    expect(client.stats).toEqual({ queued: 0, dropped: 2, sent: 3, inFlight: 0, reconnects: 1 });
  });

  it('sends a QoS 1 message again when the link drops before its PUBACK (at least once)', async () => {
    const baton = await startBaton();
    const client = await device(baton);
    const down = next(client, 'disconnect');
    const up = next(client, 'connect');
    const sent = client.telemetry({ n: 1 });
    client.mqtt.stream.destroy(); // the link dies with the message unacknowledged
    await down;
    await up;
    await sent;
    expect(await telemetryData(baton)).toContainEqual({ n: 1 });
    expect(client.stats).toMatchObject({ sent: 1, inFlight: 0, reconnects: 1 });
  });

  it('subscribes again after a broker restart lost the session', async () => {
    const baton = await startBaton();
    const client = await device(baton);
    await outage(baton, client);
    await recovery(baton, client);
    // The new broker has no session for dev-1: errors reach the device only if it subscribed again.
    const reported = new Promise((resolve) => client.once('deviceError', resolve));
    await client.mqtt.publishAsync(topics.telemetry('dev-1'), 'not json', { qos: 1 });
    expect(await reported).toMatchObject({ code: 'InvalidJSON', topic: 'devices/dev-1/telemetry' });
  });

  it('reports health again after reconnecting', async () => {
    const baton = await startBaton();
    const client = await device(baton, { health: { sample: () => ({ firmwareVersion: '2.0.0' }) } });
    await outage(baton, client);
    const restarted = await recovery(baton, client);
    const reports = await eventually(async () => {
      const items = (await restarted.api('GET', '/api/v1/devices/dev-1/health')).body.items as unknown[];
      return items.length >= 2 ? items : undefined;
    });
    expect(reports).toHaveLength(2);
  });
});

describe('Device SDK: close()', () => {
  it('ends cleanly: the broker sees a client disconnect and no timer or socket is left', async () => {
    const baton = await startBaton();
    const { secret } = await baton.createDevice('dev-1');
    const socketsBefore = countResources('TCPSocketWrap');
    const clock = new RecordingClock();
    const client = await connect({ url: baton.mqttUrl, deviceId: 'dev-1', secret, clock, health: { intervalS: 1 } });
    await client.telemetry({ n: 1 });
    expect(clock.pending).toBeGreaterThan(0); // the next health report

    await client.close();
    expect(clock.pending).toBe(0);
    expect(client.connected).toBe(false);
    await eventually(() => (countResources('TCPSocketWrap') <= socketsBefore ? true : undefined));
    const connections = await eventually(async () => {
      const res = await baton.api('GET', '/api/v1/devices/dev-1');
      return res.body.connection?.event === 'disconnected' ? res.body.connection : undefined;
    });
    expect(connections.reason).toBe('client-disconnect');
    await expect(client.telemetry({ n: 2 })).rejects.toMatchObject({ code: 'Unavailable', details: { reason: 'closed' } });
  });

  it('while offline: fails queued telemetry, stops reconnecting and sets no timer afterwards', async () => {
    const baton = await startBaton();
    const { secret } = await baton.createDevice('dev-1');
    const clock = new RecordingClock();
    const client = await connect({ url: baton.mqttUrl, deviceId: 'dev-1', secret, clock, reconnect: fastReconnect });
    await outage(baton, client);
    const queued = client.telemetry({ n: 1 });

    await client.close();
    await expect(queued).rejects.toMatchObject({ code: 'Unavailable', details: { reason: 'closed' } });
    expect(clock.pending).toBe(0);
    const created = clock.created;
    let reconnected = false;
    client.on('connect', () => (reconnected = true));
    await baton.restart({ mqttPort: baton.mqttPort });
    await new Promise((r) => setTimeout(r, 300)); // longer than fastReconnect.maxMs
    expect(clock.created).toBe(created);
    expect(reconnected).toBe(false);
  });
});

function countResources(kind: string): number {
  return process.getActiveResourcesInfo().filter((r) => r === kind).length;
}
