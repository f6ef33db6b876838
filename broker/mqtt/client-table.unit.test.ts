/**
 * guardClientTable on a bare aedes (memory persistence) over real sockets. A gate in
 * `cleanSubscriptions` (the connect step between authentication and registration) holds a
 * second connection with the same client id right where the takeover races happen.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes, type Client } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { guardClientTable, type ClientTable } from './client-table.js';

interface Rig {
  aedes: Aedes;
  table: ClientTable;
  url: string;
  /** Holds the next connection at the step between authentication and registration. */
  hold(): () => void;
  disconnects: Client[];
  registered(id: string): Client | undefined;
}

const teardown: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (teardown.length > 0) await teardown.pop()!();
});

async function rig(): Promise<Rig> {
  const aedes = await Aedes.createBroker();
  const table = guardClientTable(aedes);
  const server: Server = createServer((socket) => aedes.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  teardown.push(async () => {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const persistence = (aedes as unknown as { persistence: { cleanSubscriptions(client: Client): Promise<void> } }).persistence;
  const clean = persistence.cleanSubscriptions.bind(persistence);
  let gate: Promise<void> | undefined;
  persistence.cleanSubscriptions = async (client) => {
    const waiting = gate;
    gate = undefined;
    if (waiting) await waiting;
    return clean(client);
  };
  const disconnects: Client[] = [];
  aedes.on('clientDisconnect', (client) => disconnects.push(client));
  return {
    aedes, table, disconnects,
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold() {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return release;
    },
    registered: (id) => (aedes as unknown as { clients: Record<string, Client | undefined> }).clients[id],
  };
}

const client = async (url: string, clientId: string): Promise<MqttClient> => {
  const c = await mqtt.connectAsync(url, { clientId, reconnectPeriod: 0 });
  teardown.push(() => c.endAsync(true).then(() => undefined));
  return c;
};
const pause = (ms = 100) => new Promise((resolve) => setTimeout(resolve, ms));

describe('guardClientTable (aedes takeover races)', () => {
  it('a connection that authenticated and died before registering neither unregisters nor takes over the live one', async () => {
    const r = await rig();
    const a = await client(r.url, 'x');
    const live = r.registered('x')!;
    const release = r.hold();
    const b = mqtt.connect(r.url, { clientId: 'x', reconnectPeriod: 0 });
    b.on('error', () => undefined);
    await pause(); // b authenticated, held before registration
    b.end(true);
    await pause(); // b's socket closed: aedes' close would unregister "x" by id
    expect(r.registered('x')).toBe(live);
    expect(r.disconnects).toEqual([]);
    release();
    await pause();
    expect(r.registered('x')).toBe(live); // the dead connection did not take over
    expect(a.connected).toBe(true);
    expect(r.aedes.connectedClients).toBe(1);

    await a.endAsync();
    await pause();
    expect(r.disconnects).toEqual([live]); // and the live one's own disconnect is reported
    expect(r.registered('x')).toBeUndefined();
    expect(r.aedes.connectedClients).toBe(0);
  });

  it('a takeover closes the old connection, tells it was taken over, and registers the new one', async () => {
    const r = await rig();
    const a = await client(r.url, 'x');
    const old = r.registered('x')!;
    const closed = new Promise<void>((resolve) => a.once('close', () => resolve()));
    await client(r.url, 'x');
    await closed;
    expect(r.registered('x')).not.toBe(old);
    expect(r.table.tookOver(old)).toBe(true);
    expect(r.table.tookOver(r.registered('x')!)).toBe(false);
    expect(r.disconnects).toEqual([old]);
    expect(r.aedes.connectedClients).toBe(1);
  });

  it('a connection replaced in the table while it was closing on its own still reports its disconnect, and leaves its successor registered', async () => {
    const r = await rig();
    const a = await client(r.url, 'x');
    await a.subscribeAsync('t/#'); // its close then unsubscribes asynchronously: a window
    const old = r.registered('x')!;
    const release = r.hold();
    const b = mqtt.connect(r.url, { clientId: 'x', reconnectPeriod: 0 });
    teardown.push(() => b.endAsync(true).then(() => undefined));
    await pause(); // b held before registration
    release();
    old.close(); // closing on its own (not a takeover) as b goes on to register
    await new Promise((resolve) => b.once('connect', resolve));
    await pause();
    const successor = r.registered('x');
    expect(successor).toBeDefined();
    expect(successor).not.toBe(old);
    expect(r.disconnects).toEqual([old]);
    expect(r.table.tookOver(old)).toBe(false);
    expect(r.aedes.connectedClients).toBe(1);
  });
});
