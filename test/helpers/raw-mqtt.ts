/**
 * Hand-built MQTT 3.1.1 packets over a raw socket, for the cases mqtt.js refuses to send (an
 * empty client id with clean session 0, a packet that lies about its length, an acknowledgement
 * for a packet id never sent).
 */
import { connect } from 'node:net';

/** A UTF-8 string with its two-byte length [MQTT-1.5.3]. */
export const str = (s: string | Buffer) => {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};

/** The fixed header's remaining length, as its variable-length encoding [MQTT-2.2.3]. */
export function varint(value: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    bytes.push(byte);
  } while (value > 0);
  return Buffer.from(bytes);
}

/** A whole packet: first byte, remaining length, body. */
export const frame = (firstByte: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([firstByte]), varint(body.length), body]);

export function connectPacket(o: { clientId: string; clean: boolean; username?: string; password?: string }): Buffer {
  const flags = (o.username !== undefined ? 0x80 : 0) | (o.password !== undefined ? 0x40 : 0) | (o.clean ? 0x02 : 0);
  const body = Buffer.concat([
    str('MQTT'), Buffer.from([4, flags, 0, 60]), str(o.clientId),
    ...(o.username !== undefined ? [str(o.username)] : []),
    ...(o.password !== undefined ? [str(o.password)] : []),
  ]);
  return frame(0x10, body);
}

/** Sends CONNECT and resolves with the CONNACK return code. */
export function rawConnack(port: number, packet: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(packet));
    socket.once('data', (data) => {
      socket.destroy();
      if (data[0] !== 0x20) reject(new Error(`expected CONNACK, got ${data.toString('hex')}`));
      else resolve(data[3]!);
    });
    socket.once('error', reject);
  });
}
