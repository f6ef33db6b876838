/**
 * BATON_MQTT_MAX_PACKET_BYTES over real connections: a packet announced larger than the limit
 * closes the connection from its fixed header, before its body is buffered, on every transport,
 * authenticated or not (broker/mqtt/packet-size-guard.ts; WebSocket messages: listeners.ts).
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startBaton, whenClosed } from './helpers/service.js';
import { varint } from './helpers/raw-mqtt.js';

const limit = 16_384;
const telemetryTopic = 'devices/dev-1/telemetry';

const varintLength = (n: number) => (n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4);


/** A telemetry JSON object that makes a QoS 1 PUBLISH on `topic` exactly `packetBytes` long. */
function telemetryForPacketOf(packetBytes: number, topic = telemetryTopic): string {
  for (let lengthBytes = 1; lengthBytes <= 4; lengthBytes++) {
    const remaining = packetBytes - 1 - lengthBytes;
    if (varintLength(remaining) !== lengthBytes) continue;
    const payloadBytes = remaining - (2 + Buffer.byteLength(topic)) - 2; // topic, packet id
    return JSON.stringify({ pad: 'x'.repeat(payloadBytes - '{"pad":""}'.length) });
  }
  throw new Error(`no PUBLISH is ${packetBytes} bytes`);
}

/** `promise`, or a rejection with `message` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Connects a raw socket, writes `header`, then junk 16 KiB at a time (yielding to the event loop
 * between chunks, as the broker runs in this process), until the server closes the socket or
 * `capBytes` have been written. Counts the bytes handed to `socket.write`.
 */
function streamUntilClosed(port: number, header: Buffer, capBytes: number): Promise<{ written: number; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const junk = Buffer.alloc(16 * 1024, 0xab);
    let written = 0;
    let closed = false;
    socket.on('error', () => undefined); // EPIPE / ECONNRESET once the server has closed
    socket.once('close', () => {
      closed = true;
      resolve({ written, closedByServer: true });
    });
    const pump = () => {
      if (closed) return;
      if (written >= capBytes) {
        resolve({ written, closedByServer: false });
        socket.destroy();
        return;
      }
      written += junk.length;
      if (socket.write(junk)) setImmediate(pump);
      else socket.once('drain', () => setImmediate(pump));
    };
    socket.once('connect', () => {
      written += header.length;
      socket.write(header);
      setImmediate(pump);
    });
  });
}

describe('MQTT packet size limit (BATON_MQTT_MAX_PACKET_BYTES)', () => {
  it('closes an unauthenticated socket whose CONNECT announces 200 MB before the body is buffered', async () => {
    const baton = await startBaton();
    const connectHeader = Buffer.concat([Buffer.from([0x10]), varint(200 * 1024 * 1024)]);

    const { written, closedByServer } = await streamUntilClosed(baton.mqttPort, connectHeader, 8 * 1024 * 1024);

    expect(closedByServer).toBe(true);
    expect(written).toBeLessThan(1024 * 1024);
    // The broker keeps serving others.
    await baton.connectDevice(await baton.createDevice('dev-1'));
  });

  it('accepts a device PUBLISH of exactly the limit and closes the connection of one a byte larger', async () => {
    const baton = await startBaton({ mqttMaxPacketBytes: limit });
    const device = await baton.connectDevice(await baton.createDevice('dev-1'));

    const atLimit = telemetryForPacketOf(limit);
    await device.publishAsync(telemetryTopic, atLimit, { qos: 1 });
    const closed = whenClosed(device);
    device.publish(telemetryTopic, telemetryForPacketOf(limit + 1), { qos: 1 }, () => undefined);
    await within(closed, 5000, 'the connection stayed open');

    const stored = await baton.api('GET', '/api/v1/devices/dev-1/telemetry');
    expect(stored.body.items.map((r: any) => r.data)).toEqual([JSON.parse(atLimit)]);
  });

  it('closes a WebSocket connection that publishes a packet larger than the limit', async () => {
    const baton = await startBaton({ mqttMaxPacketBytes: limit });
    const { id, secret } = await baton.createDevice('dev-1');
    const device = await baton.connect({ url: baton.wsUrl, clientId: id, username: id, password: secret });

    await device.publishAsync(telemetryTopic, telemetryForPacketOf(limit), { qos: 1 });
    const closed = whenClosed(device);
    // mqtt.js sends the PUBLISH's header, topic and payload as separate WebSocket messages, each
    // under the limit: the packet-size guard, not ws' maxPayload, has to catch it.
    device.publish(telemetryTopic, telemetryForPacketOf(limit + 1), { qos: 1 }, () => undefined);
    await within(closed, 5000, 'the connection stayed open');
  });

  it('refuses a WebSocket message larger than the limit with 1009 before MQTT parses it', async () => {
    const baton = await startBaton({ mqttMaxPacketBytes: limit });
    const ws = new WebSocket(baton.wsUrl, 'mqtt');
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closeCode = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));

    // Tiny PINGREQs, so only the message size can be refused.
    ws.send(Buffer.alloc(limit + 2, Buffer.from([0xc0, 0x00])));

    expect(await closeCode).toBe(1009);
  });
});
