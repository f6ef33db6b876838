/**
 * A hand-built MQTT 3.1.1 CONNECT over a raw socket, for the cases mqtt.js refuses to send
 * (an empty client id with clean session 0).
 */
import { connect } from 'node:net';

const str = (s: string) => {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};

export function connectPacket(o: { clientId: string; clean: boolean; username?: string; password?: string }): Buffer {
  const flags = (o.username !== undefined ? 0x80 : 0) | (o.password !== undefined ? 0x40 : 0) | (o.clean ? 0x02 : 0);
  const body = Buffer.concat([
    str('MQTT'), Buffer.from([4, flags, 0, 60]), str(o.clientId),
    ...(o.username !== undefined ? [str(o.username)] : []),
    ...(o.password !== undefined ? [str(o.password)] : []),
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
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
