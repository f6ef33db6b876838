import { describe, expect, it, onTestFinished } from 'vitest';
import { connect, topics, type DeviceClient, type DeviceError } from '../device-sdk/index.js';
import { RecordingClock } from '../device-sdk/test-fixtures.js';
import { eventually, startBaton, type TestBaton } from './helpers/service.js';

/** A registered device and an SDK client for it, closed at the end of the test. */
async function device(baton: TestBaton, extra: Partial<Parameters<typeof connect>[0]> = {}, id = 'dev-1') {
  const { secret } = await baton.createDevice(id);
  const client = await connect({ url: baton.mqttUrl, deviceId: id, secret, ...extra });
  onTestFinished(() => client.close());
  return client;
}

const storedTelemetry = async (baton: TestBaton, id: string, min: number) =>
  eventually(async () => {
    const res = await baton.api('GET', `/api/v1/devices/${id}/telemetry`);
    return res.body.items.length >= min ? (res.body.items as Array<{ stream: string | null; data: unknown }>) : undefined;
  });

const nextDeviceError = (client: DeviceClient) => new Promise<DeviceError>((resolve) => client.once('deviceError', resolve));

describe('Device SDK: connect and telemetry', () => {
  it('publishes telemetry that the broker stores, on the default and on a named stream', async () => {
    const baton = await startBaton();
    const client = await device(baton);
    expect(client.connected).toBe(true);
    await client.telemetry({ tempC: 21.5 });
    await client.telemetry({ rpm: 900 }, { stream: 'motor' });
    // QoS 1 resolves after the broker committed it, so it is readable at once.
    const res = await baton.api('GET', '/api/v1/devices/dev-1/telemetry');
    expect(res.body.items.map((i: { stream: string | null; data: unknown }) => [i.stream, i.data])).toEqual([
      ['motor', { rpm: 900 }],
      [null, { tempC: 21.5 }],
    ]);
    expect(client.stats).toEqual({ queued: 0, dropped: 0, sent: 2, inFlight: 0, reconnects: 0 });
  });

  it('sends QoS 0 telemetry too', async () => {
    const baton = await startBaton();
    const client = await device(baton);
    await client.telemetry({ n: 1 }, { qos: 0 });
    expect((await storedTelemetry(baton, 'dev-1', 1)).map((i) => i.data)).toEqual([{ n: 1 }]);
  });

  it('refuses telemetry that is not a JSON object, or a bad stream name, before sending it', async () => {
    const baton = await startBaton();
    const client = await device(baton);
    await expect(client.telemetry([1, 2] as never)).rejects.toMatchObject({ code: 'InvalidRequest' });
    await expect(client.telemetry({ a: 1 }, { stream: 'a/b' })).rejects.toMatchObject({ code: 'InvalidRequest' });
    expect(client.stats.sent).toBe(0);
  });

  it('works over WebSocket', async () => {
    const baton = await startBaton();
    const client = await device(baton, { url: baton.wsUrl });
    await client.telemetry({ via: 'ws' });
    expect((await storedTelemetry(baton, 'dev-1', 1)).map((i) => i.data)).toEqual([{ via: 'ws' }]);
  });
});

describe('Device SDK: connect failures', () => {
  it('fails connect with Unauthorized on a bad secret, leaving no timer behind', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    const clock = new RecordingClock();
    const attempt = connect({ url: baton.mqttUrl, deviceId: 'dev-1', secret: 'not-the-secret', clock });
    await expect(attempt).rejects.toMatchObject({ name: 'BatonError', code: 'Unauthorized', details: { returnCode: 4 } });
    await expect(attempt).rejects.toThrow(/refused device dev-1 \(CONNACK 4: Bad username or password\)/);
    expect(clock.pending).toBe(0);
    expect(clock.created).toBe(0); // the first attempt is not retried
  });

  it('fails connect with Unavailable when nothing listens', async () => {
    const baton = await startBaton();
    const url = baton.mqttUrl;
    await baton.stop();
    await expect(connect({ url, deviceId: 'dev-1', secret: 's' })).rejects.toMatchObject({ code: 'Unavailable', details: { cause: 'ECONNREFUSED' } });
  });

  it('rejects invalid options with InvalidRequest naming each field', async () => {
    await expect(
      connect({ url: 'http://example.com', deviceId: 'a/b', secret: 's', reconnect: { minMs: 500, maxMs: 100 }, health: { intervalS: 0 } }),
    ).rejects.toMatchObject({
      code: 'InvalidRequest',
      details: { fields: { url: expect.any(String), deviceId: expect.any(String), 'reconnect.maxMs': expect.any(String), 'health.intervalS': expect.any(String) } },
    });
  });
});

describe('Device SDK: health', () => {
  it('reports health on connect, sampled from the host, with the app sample merged on top', async () => {
    const baton = await startBaton();
    const client = await device(baton, {
      health: { intervalS: 30, sample: async () => ({ firmwareVersion: '1.4.2', batteryPct: 77, memFreeBytes: 1234 }) },
    });
    const first = await eventually(async () => (await baton.api('GET', '/api/v1/devices/dev-1/health')).body.items[0]?.report);
    expect(first).toEqual({
      uptimeS: expect.any(Number),
      ...(first.cpuPct === undefined ? {} : { cpuPct: expect.any(Number) }),
      memFreeBytes: 1234,
      intervalS: 30,
      firmwareVersion: '1.4.2',
      batteryPct: 77,
    });
    const sent = await client.reportHealth();
    const latest = (await baton.api('GET', '/api/v1/devices/dev-1/health')).body.items[0].report;
    expect(latest).toEqual(sent);
  });

  it('does not send a report that fails the schema, and says why', async () => {
    const baton = await startBaton();
    const client = await device(baton, { health: { sample: () => ({ batteryPct: 140 }) } });
    await expect(client.reportHealth()).rejects.toMatchObject({ code: 'InvalidRequest', details: { fields: { batteryPct: expect.any(String) } } });
    expect((await baton.api('GET', '/api/v1/devices/dev-1/health')).body.items).toEqual([]);
  });

  it('sends no report when health is disabled', async () => {
    const baton = await startBaton();
    const client = await device(baton, { health: { enabled: false } });
    await client.telemetry({ x: 1 }); // a round trip after connect
    expect((await baton.api('GET', '/api/v1/devices/dev-1/health')).body.items).toEqual([]);
  });
});

describe('Device SDK: broker errors and requests', () => {
  it("emits 'deviceError' with the broker's code when it drops a payload", async () => {
    const baton = await startBaton();
    const client = await device(baton);
    const reported = nextDeviceError(client);
    await client.mqtt.publishAsync(topics.telemetry('dev-1'), '[1,2,3]', { qos: 1 }); // raw: the SDK would refuse it
    expect(await reported).toEqual({ code: 'InvalidJSON', message: 'payload must be a JSON object', topic: 'devices/dev-1/telemetry', timestamp: expect.any(String) });
  });

  it('fails a request with the code the broker reports for it', async () => {
    const baton = await startBaton();
    const client = await device(baton);
    // Not a valid shadow update: rejected on …/rejected once shadows exist, on …/errors until then.
    const request = client.request(topics.shadow('dev-1', undefined, 'update'), { notState: true }, { timeoutMs: 5000 });
    await expect(request).rejects.toMatchObject({ name: 'BatonError', code: 'InvalidRequest' });
  });

  it('delivers messages on a topic to the handlers registered with onTopic', async () => {
    const baton = await startBaton();
    const client = await device(baton);
    const seen: string[] = [];
    const off = await client.onTopic(topics.errors('dev-1'), ({ topic, payload }) => seen.push(`${topic} ${JSON.parse(payload.toString()).code}`));
    const reported = nextDeviceError(client);
    await client.mqtt.publishAsync(topics.telemetry('dev-1'), 'not json', { qos: 1 });
    await reported;
    expect(seen).toEqual(['devices/dev-1/errors InvalidJSON']);
    await off();
    await expect(client.onTopic('devices/dev-2/errors', () => undefined)).rejects.toMatchObject({ code: 'Forbidden' });
  });
});
