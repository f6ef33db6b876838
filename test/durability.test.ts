import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startChildBroker, type ChildBroker } from './helpers/child-broker.js';
import { ADMIN_TOKEN, startBaton , whenClosed } from './helpers/service.js';

const dirs: string[] = [];
const children: ChildBroker[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.child.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function createDevice(httpPort: number, id: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/v1/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id }),
  });
  return ((await res.json()) as { secret: string }).secret;
}

describe('durability', () => {
  it('loses none of the QoS 1 telemetry it acknowledged when killed with SIGKILL', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'baton-kill-'));
    dirs.push(dataDir);
    const broker = await startChildBroker(dataDir);
    children.push(broker);
    const devices = ['d0', 'd1', 'd2', 'd3'];
    const acked = new Map<string, number[]>(devices.map((d) => [d, []]));
    const clients = await Promise.all(
      devices.map(async (id) =>
        mqtt.connectAsync(`mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: id, username: id, password: await createDevice(broker.httpPort, id), reconnectPeriod: 0 }),
      ),
    );
    // Each device keeps 20 QoS 1 publishes in flight; kill the broker once 400 are acknowledged.
    const enough = new Promise<void>((resolve) => {
      clients.forEach((client, i) => {
        const id = devices[i]!;
        let seq = 0;
        const pump = () => {
          const n = seq++;
          client.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ n }), { qos: 1 }).then(
            () => {
              acked.get(id)!.push(n);
              if ([...acked.values()].reduce((s, a) => s + a.length, 0) >= 400) resolve();
              else pump();
            },
            () => undefined,
          );
        };
        for (let k = 0; k < 20; k++) pump();
      });
    });
    await enough;
    broker.child.kill('SIGKILL');
    await broker.exited;
    const ackedSnapshot = new Map([...acked].map(([id, ns]) => [id, [...ns]]));
    for (const c of clients) c.end(true);

    const baton = await startBaton({}, { dataDir });
    for (const [id, ns] of ackedSnapshot) {
      const stored = new Set<number>();
      let cursor: string | null = null;
      do {
        const res: any = await baton.api('GET', `/api/v1/devices/${id}/telemetry?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
        for (const row of res.body.items) stored.add(row.data.n);
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(ns.filter((n) => !stored.has(n))).toEqual([]);
    }
  });

  it('exits 0 on SIGTERM after closing clients and the database', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'baton-term-'));
    dirs.push(dataDir);
    const broker = await startChildBroker(dataDir);
    children.push(broker);
    const secret = await createDevice(broker.httpPort, 'd0');
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: 'd0', username: 'd0', password: secret, reconnectPeriod: 0 });
    await client.publishAsync('devices/d0/telemetry', JSON.stringify({ last: true }), { qos: 1 });
    const closed = whenClosed(client);
    broker.child.kill('SIGTERM');
    expect(await broker.exited).toBe(0);
    await closed;
    const baton = await startBaton({}, { dataDir });
    const rows = await baton.api('GET', '/api/v1/devices/d0/telemetry');
    expect(rows.body.items.map((r: any) => r.data)).toEqual([{ last: true }]);
  });

  it('keeps devices, tokens, sites and telemetry across a restart on the same data dir', async () => {
    const first = await startBaton();
    await first.api('POST', '/api/v1/sites', { id: 's1', uplinkBytesPerSec: 100 });
    const device = await first.createDevice('dev-1', { site: 's1', tags: ['t'] });
    const token = (await first.api('POST', '/api/v1/tokens', { name: 'v', role: 'viewer' })).body.token;
    const client = await first.connectDevice(device);
    await client.publishAsync('devices/dev-1/telemetry', JSON.stringify({ v: 1 }), { qos: 1 });

    const second = await first.restart();
    expect(second.service.firstAdminToken).toBeUndefined();
    const detail = await second.api('GET', '/api/v1/devices/dev-1', undefined, token);
    expect(detail.body).toMatchObject({ id: 'dev-1', site: 's1', tags: ['t'], status: 'offline' });
    expect((await second.api('GET', '/api/v1/devices/dev-1/telemetry')).body.items.map((r: any) => r.data)).toEqual([{ v: 1 }]);
    await second.connectDevice(device); // the secret still works
  });

  it('prints a generated first admin token once, on first start only', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'baton-first-'));
    dirs.push(dataDir);
    const broker = await startChildBroker(dataDir, { BATON_ADMIN_TOKEN: '', BATON_LOG_LEVEL: 'trace' });
    children.push(broker);
    const token = broker.output().match(/\n {2}(btk_[A-Za-z0-9_-]{43})\n/)?.[1];
    expect(token).toBeDefined();
    expect(broker.output().split(token!).length).toBe(2); // printed once, never logged
    const res = await fetch(`http://127.0.0.1:${broker.httpPort}/api/v1/tokens`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    broker.child.kill('SIGTERM');
    await broker.exited;
    const again = await startChildBroker(dataDir, { BATON_ADMIN_TOKEN: '' });
    children.push(again);
    expect(again.output()).not.toContain('First admin API token');
  });
});
