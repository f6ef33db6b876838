import type { Packet } from 'mqtt';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect, type DeviceClient } from '../device-sdk/index.js';
import { customJob, jobStatus } from './helpers/jobs.js';
import { eventually, startBaton } from './helpers/service.js';

/**
 * The broker caps the filters one client may hold (`BATON_MQTT_MAX_SUBSCRIPTIONS`, 256 by
 * default), and a persistent session keeps every filter it was ever given. The SDK must hold a
 * small constant number, however many requests and jobs a long-lived device runs.
 */
const MAX_FILTERS = 16;

const next = (client: DeviceClient, event: 'connect' | 'disconnect') => new Promise<void>((resolve) => client.once(event, () => resolve()));

/**
 * The filters the client has told the broker about: added by SUBSCRIBE, removed by UNSUBSCRIBE,
 * as seen on the wire (this is what the broker's session holds, since every filter is granted).
 */
function wireFilters(client: DeviceClient) {
  const held = new Set<string>();
  const subscribePackets: string[][] = [];
  client.mqtt.on('packetsend', (packet: Packet) => {
    if (packet.cmd === 'subscribe') {
      const filters = packet.subscriptions.map((s) => s.topic);
      subscribePackets.push(filters);
      for (const f of filters) held.add(f);
    } else if (packet.cmd === 'unsubscribe') {
      for (const f of packet.unsubscriptions) held.delete(f);
    }
  });
  /** Drops the link and resolves, once the SDK is back, with what it subscribed again meanwhile: every filter it holds. */
  const reconnect = async (): Promise<string[]> => {
    const from = subscribePackets.length;
    const up = next(client, 'connect');
    client.mqtt.stream.destroy();
    await up;
    return subscribePackets.slice(from).flat().sort();
  };
  return { held, reconnect };
}

describe('Device SDK: subscriptions', () => {
  it('holds a small constant number of filters however many shadow requests and jobs it runs', async () => {
    const baton = await startBaton();
    const { secret } = await baton.createDevice('dev-1');
    const client = await connect({
      url: baton.mqttUrl,
      deviceId: 'dev-1',
      secret,
      health: { enabled: false },
      reconnect: { minMs: 20, maxMs: 100 },
      jobs: { firmwareVersion: () => '1.0.0' }, // so every connect also reconciles
    });
    onTestFinished(() => client.close());
    const wire = wireFilters(client);
    // The SDK subscribes everything again at a reconnect, so from here on `held` is complete.
    await wire.reconnect();

    // 60 requests on the classic shadow.
    const shadow = client.shadow();
    for (let i = 0; i < 30; i++) {
      await shadow.report({ n: i });
      expect((await shadow.get()).state.reported).toEqual({ n: i });
    }
    // Named shadows, concurrently: the replies share filters and are routed by topic and token.
    const names = ['a', 'b', 'c', 'd', 'e'];
    const accepted = await Promise.all(names.map((name) => client.shadow(name).report({ name })));
    expect(accepted.map((a) => a.state.reported)).toEqual(names.map((name) => ({ name })));
    const docs = await Promise.all(names.map((name) => client.shadow(name).get()));
    expect(docs.map((d) => d.state.reported)).toEqual(names.map((name) => ({ name })));

    // 12 jobs, each a queue peek, an execution get, start-next and two updates.
    const ran: string[] = [];
    client.jobs.handle('custom', async ({ job, progress }) => {
      await progress({ percent: 50 });
      ran.push(job.jobId);
    });
    const jobIds = Array.from({ length: 12 }, (_, i) => `job-${i}`);
    for (const id of jobIds) await customJob(baton, id, ['dev-1']);
    for (const id of jobIds) await jobStatus(baton, id, 'COMPLETED');
    expect(ran).toEqual(jobIds);

    await client.rotateCertificate();

    expect(wire.held.size).toBeLessThanOrEqual(MAX_FILTERS);
    expect([...wire.held].sort()).toEqual([
      'devices/dev-1/certificates/+/accepted',
      'devices/dev-1/certificates/+/rejected',
      'devices/dev-1/errors',
      'devices/dev-1/jobs/+/+/accepted',
      'devices/dev-1/jobs/+/+/rejected',
      'devices/dev-1/jobs/+/accepted',
      'devices/dev-1/jobs/+/rejected',
      'devices/dev-1/jobs/notify-next',
      'devices/dev-1/shadow/+/accepted',
      'devices/dev-1/shadow/+/rejected',
      'devices/dev-1/shadow/name/+/+/accepted',
      'devices/dev-1/shadow/name/+/+/rejected',
      'devices/dev-1/shadow/name/+/update/delta',
      'devices/dev-1/shadow/name/+/update/documents',
      'devices/dev-1/shadow/update/delta',
      'devices/dev-1/shadow/update/documents',
    ]);
    // The SDK's own registry agrees with the wire: a reconnect subscribes exactly these again.
    expect(await wire.reconnect()).toEqual([...wire.held].sort());
    // And the device still works after it.
    await expect(shadow.report({ n: 'after' })).resolves.toMatchObject({ state: { reported: { n: 'after' } } });
    await eventually(() => (client.connected ? true : undefined));
  });

  it('routes a named shadow delta only to its own handle, though the handles share one filter', async () => {
    const baton = await startBaton();
    const { secret } = await baton.createDevice('dev-1');
    const client = await connect({ url: baton.mqttUrl, deviceId: 'dev-1', secret, health: { enabled: false } });
    onTestFinished(() => client.close());
    const seen: Array<[string, unknown]> = [];
    for (const name of ['a', 'b']) {
      const handle = client.shadow(name);
      await handle.report({ led: 'off' });
      handle.onDelta(async (delta) => {
        seen.push([name, delta]);
        return delta;
      });
    }
    const res = await baton.api('PATCH', '/api/v1/devices/dev-1/shadow?name=b', { state: { desired: { led: 'on' } } });
    expect(res.status).toBe(200);
    await eventually(() => (client.shadow('b').reported['led'] === 'on' ? true : undefined));
    expect(seen).toEqual([['b', { led: 'on' }]]);
    expect(client.shadow('a').desired).toEqual({});
    expect(client.shadow('a').reported).toEqual({ led: 'off' });
  });
});
