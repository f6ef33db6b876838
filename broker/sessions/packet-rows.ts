/**
 * How packets are laid out in the session tables: header fields as JSON (or columns, for the
 * outgoing queue), the payload as a BLOB beside them so it is never re-encoded.
 */
import type { StoredPacket } from './types.js';

export interface JsonPacketRow {
  packet_json: string;
  payload: Buffer | null;
}

export const payloadOf = (packet: { payload?: unknown }): Buffer =>
  Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload === undefined || packet.payload === null ? '' : String(packet.payload));

/** Every field but the payload (retained messages and wills come back exactly as stored). */
export function toJsonRow(packet: StoredPacket): JsonPacketRow {
  const { payload: _payload, ...header } = packet;
  return { packet_json: JSON.stringify(header), payload: payloadOf(packet) };
}

export function fromJsonRow(row: JsonPacketRow): StoredPacket {
  return { ...(JSON.parse(row.packet_json) as StoredPacket), payload: row.payload ?? Buffer.alloc(0) };
}

/** The fields of an aedes packet (what `new Packet()` keeps), for incoming QoS 2 messages. */
export function packetFields(packet: StoredPacket): StoredPacket {
  const out: StoredPacket = { cmd: packet.cmd ?? 'publish' };
  for (const key of ['topic', 'qos', 'retain', 'dup', 'messageId', 'brokerId', 'brokerCounter'] as const) {
    if (packet[key] !== undefined) (out as Record<string, unknown>)[key] = packet[key];
  }
  return out;
}
