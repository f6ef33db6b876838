import { Socket } from 'node:net';
import type { Aedes, Client } from 'aedes';

export interface Publisher {
  /** Publishes on behalf of the broker (replies, events); bypasses authorizePublish by design. */
  publish(topic: string, payload: Buffer | string | object, qos?: 0 | 1): Promise<void>;
  /**
   * The connection of `clientId` for whole QoS 0 PUBLISH packets the caller encoded itself, if the
   * client is connected here and the ACL lets it receive `topic`; undefined otherwise. Block
   * delivery's path (broker/firmware/block-frames.ts), where a run of blocks is one write.
   */
  packetWriter(clientId: string, topic: string): PacketWriter | undefined;
}

/** A client's connection, written past aedes' emitter: what aedes' own QoS 0 delivery does, minus a packet object, an emitter slot and a write per packet. */
export interface PacketWriter {
  /** The client's subscription filters: a QoS 0 message goes only where one of them matches. */
  readonly filters: readonly string[];
  /**
   * Writes whole PUBLISH packets (QoS 0, MQTT 3.1/3.1.1), ending at `packetEnds` in `frame`, with
   * `payloadBytes` of payload in all, and counts them like any delivered message. Over TCP or TLS
   * that is one write. Over a WebSocket, where a write is a WebSocket message, it is a message a
   * packet: a device's WebSocket stack need not take a message larger than one block. `done`
   * runs once they are handed to the socket, after a drain if its buffer was full, with aedes'
   * drain timeout disconnecting a client that never drains: exactly aedes' own write (lib/write.js).
   */
  write(frame: Buffer, packetEnds: readonly number[], payloadBytes: number, done: (err?: Error) => void): void;
}

/** aedes' client internals that its own write path uses (lib/client.js, lib/write.js); not in its typings. */
interface AedesClientInternals {
  errored?: boolean;
  subscriptions: Record<string, unknown>;
  waitForDrain(done: (err?: Error) => void): void;
}

export interface PublisherOptions {
  /** The ACL at delivery (authorizeForward's check): may this client receive `topic`? */
  mayReceive(client: Client, topic: string): boolean;
  /** Counts packets written by a PacketWriter, as authorizeForward counts the ones aedes delivers. */
  delivered(topic: string, packets: number, payloadBytes: number): void;
}

export function createPublisher(aedes: Aedes, options: PublisherOptions): Publisher {
  /** aedes' own table of registered connections by client id (not in its typings). */
  const liveClients = (aedes as unknown as { clients: Record<string, Client | undefined> }).clients;
  return {
    publish(topic, payload, qos = 1) {
      const body = Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
      return new Promise((resolve, reject) => {
        aedes.publish({ cmd: 'publish', topic, payload: body, qos, retain: false, dup: false }, (err) => (err ? reject(err) : resolve()));
      });
    },
    packetWriter(clientId, topic) {
      const client = liveClients[clientId];
      // aedes accepts only MQTT 3.1 and 3.1.1 (handlers/connect.js), whose QoS 0 PUBLISH the
      // caller encodes; a later protocol level would need properties in every packet.
      if (!client || !client.connected || client.closed || (client.version !== 3 && client.version !== 4)) return undefined;
      if (!options.mayReceive(client, topic)) return undefined;
      const internals = client as unknown as AedesClientInternals;
      return {
        filters: Object.keys(internals.subscriptions),
        write(frame, packetEnds, payloadBytes, done) {
          const { conn } = client;
          if (!client.connected || client.closed || conn.destroyed) {
            setImmediate(done, new Error('connection closed'));
            return;
          }
          options.delivered(topic, packetEnds.length, payloadBytes);
          let room = true;
          if (conn instanceof Socket) room = conn.write(frame);
          else for (let i = 0, from = 0; i < packetEnds.length; from = packetEnds[i++]!) room = conn.write(frame.subarray(from, packetEnds[i]));
          if (!room && !internals.errored) internals.waitForDrain(done);
          else setImmediate(done);
        },
      };
    },
  };
}
