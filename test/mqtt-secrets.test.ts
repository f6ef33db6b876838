import { connect, type Socket } from 'node:net';
import type { Aedes, Client } from 'aedes';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectPacket, frame, str } from './helpers/raw-mqtt.js';
import { captureAedes } from './helpers/aedes.js';
import { eventually, startBaton, type TestBaton } from './helpers/service.js';


afterEach(() => {
  vi.restoreAllMocks();
});

const registered = (aedes: Aedes, id: string) => (aedes as unknown as { clients: Record<string, Client | undefined> }).clients[id];

/**
 * Every place under `root` where `needle` occurs: strings, Buffers and typed arrays, including the
 * whole memory behind a view (a Buffer slice keeps its chunk alive). Skips the broker (shared
 * state, every other client) to stay on what this connection holds.
 */
function findBytes(root: object, needle: Buffer): string[] {
  const text = needle.toString('latin1');
  const seen = new Set<unknown>();
  const hits: string[] = [];
  const stack: Array<[unknown, string]> = [[root, 'client']];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes(text)) hits.push(`${path} (string)`);
      continue;
    }
    if (value === null || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value)) continue;
    seen.add(value);
    if (ArrayBuffer.isView(value)) {
      const view = value as Uint8Array;
      if (Buffer.from(view.buffer).indexOf(needle) >= 0) hits.push(`${path} (${view.byteLength} bytes at ${view.byteOffset} of ${view.buffer.byteLength})`);
      continue;
    }
    if (value instanceof ArrayBuffer) {
      if (Buffer.from(value).indexOf(needle) >= 0) hits.push(`${path} (ArrayBuffer)`);
      continue;
    }
    if (value instanceof Map) for (const [k, v] of value) stack.push([k, `${path}.<key>`], [v, `${path}.<value>`]);
    if (value instanceof Set) for (const v of value) stack.push([v, `${path}.<item>`]);
    for (const key of Reflect.ownKeys(value)) {
      if (key === 'broker' || key === 'server' || key === '_server') continue;
      let v: unknown;
      try {
        v = (value as Record<PropertyKey, unknown>)[key];
      } catch {
        continue;
      }
      stack.push([v, `${path}.${String(key)}`]);
    }
  }
  return hits;
}

async function device(baton: TestBaton, id: string) {
  return baton.createDevice(id);
}

describe('CONNECT passwords are not kept', () => {
  it('after a device connects, its password bytes are reachable nowhere from its connection', async () => {
    const created = captureAedes();
    const baton = await startBaton();
    const { id, secret } = await device(baton, 'dev-1');
    const client = await baton.connectDevice({ id, secret });
    await client.subscribeAsync('devices/dev-1/errors', { qos: 1 }); // more packets through the same parser
    const aedesClient = await eventually(() => registered(created[0]!, 'dev-1'));

    // The walk does reach the parser's copy of the CONNECT: the username is still there.
    expect(findBytes(aedesClient, Buffer.from('dev-1')).some((p) => p.startsWith('client._parser.settings.username'))).toBe(true);
    expect(findBytes(aedesClient, Buffer.from(secret))).toEqual([]);
    expect((aedesClient as unknown as { _parser: { settings: object } })._parser.settings).not.toHaveProperty('password');
  });

  it('nor when the CONNECT arrived split over two reads, the password cut in two', async () => {
    const created = captureAedes();
    const baton = await startBaton();
    const { secret } = await device(baton, 'dev-2');
    const packet = connectPacket({ clientId: 'dev-2', clean: true, username: 'dev-2', password: secret });
    const cut = packet.length - Math.floor(secret.length / 2); // inside the password (the CONNECT's last field)
    const socket: Socket = connect(baton.mqttPort, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const connack = new Promise<Buffer>((resolve) => socket.once('data', resolve));
    socket.write(packet.subarray(0, cut));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The rest of the password, then the start of a PUBLISH: the parser keeps that read until the rest comes.
    const publish = frame(0x30, Buffer.concat([str('devices/dev-2/telemetry'), Buffer.from('{}')]));
    socket.write(Buffer.concat([packet.subarray(cut), publish.subarray(0, 6)]));
    expect([...(await connack)]).toEqual([0x20, 2, 0, 0]);
    const aedesClient = await eventually(() => registered(created[0]!, 'dev-2'));

    const tail = Buffer.from(secret).subarray(secret.length - (packet.length - cut)); // the part in the second read
    expect(tail.length).toBeGreaterThan(10);
    expect(findBytes(aedesClient, tail)).toEqual([]);
    expect(findBytes(aedesClient, Buffer.from(secret).subarray(0, 10))).toEqual([]);
    socket.destroy();
  });
});
