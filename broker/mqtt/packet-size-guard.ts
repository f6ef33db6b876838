/**
 * Refuses an MQTT packet that is too large from its fixed header, before its body is buffered.
 * mqtt-packet's parser keeps every byte of a packet until the whole packet has arrived, so
 * without this a client could announce a 200 MB CONNECT and make the broker hold it all before
 * authentication even begins. The guard reads only the fixed header (type byte and the 1–4 byte
 * remaining-length varint) and skips over bodies by counting: it runs on every inbound byte
 * of every connection, so it copies nothing and allocates nothing per chunk.
 */
import type { Client } from 'aedes';

/** The largest remaining length (MQTT 3.1.1 §2.2.3) is 4 varint bytes; a 4th with the continuation bit is malformed. */
const MAX_LENGTH_BYTES = 4;

/**
 * Walks packet boundaries across arbitrary chunk splits. `feed` returns false, and keeps
 * returning false, once a header announces a packet of more than `maxBytes` (type byte +
 * length bytes + remaining length) or a remaining length that is not a valid varint.
 */
export class PacketSizeGuard {
  /** Body bytes of the current packet not yet seen. */
  private bodyLeft = 0;
  /** True between a packet's type byte and the last byte of its remaining length. */
  private readingLength = false;
  private length = 0;
  private lengthBytes = 0;
  /** The total size announced by the refused header, or undefined for a malformed length. */
  refusedPacketBytes: number | undefined;
  refused = false;

  constructor(readonly maxBytes: number) {}

  feed(chunk: Buffer): boolean {
    if (this.refused) return false;
    const end = chunk.length;
    let i = 0;
    while (i < end) {
      if (this.bodyLeft > 0) {
        const skip = Math.min(this.bodyLeft, end - i);
        this.bodyLeft -= skip;
        i += skip;
      } else if (!this.readingLength) {
        i += 1; // the type-and-flags byte; mqtt-packet validates it
        this.readingLength = true;
        this.length = 0;
        this.lengthBytes = 0;
      } else {
        const byte = chunk[i++]!;
        this.length += (byte & 0x7f) * 128 ** this.lengthBytes;
        this.lengthBytes += 1;
        if (byte & 0x80) {
          if (this.lengthBytes === MAX_LENGTH_BYTES) return this.refuse(undefined);
          continue;
        }
        this.readingLength = false;
        const packetBytes = 1 + this.lengthBytes + this.length;
        if (packetBytes > this.maxBytes) return this.refuse(packetBytes);
        this.bodyLeft = this.length;
      }
    }
    return true;
  }

  private refuse(packetBytes: number | undefined): false {
    this.refused = true;
    this.refusedPacketBytes = packetBytes;
    return false;
  }
}

/** Called once when a connection is closed for its packet size; `announcedBytes` is undefined for a malformed length. */
export type PacketTooLarge = (announcedBytes: number | undefined) => void;

/** The parts of aedes' Client (lib/client.js) the guard hooks into; not in aedes' types. */
interface ClientParser {
  _parser: { parse(buf: Buffer): unknown };
}

/**
 * Puts a PacketSizeGuard in front of an aedes Client's parser: aedes reads each batch with
 * `conn.read(null)` and hands it to `client._parser.parse(buf)`, the one place inbound bytes
 * enter. A refused buffer is never parsed; the connection is destroyed at once, whether or not
 * the client has authenticated. Call right after `aedes.handle(stream)`, before any byte is read.
 */
export function guardPacketSize(client: Client, maxBytes: number, onTooLarge: PacketTooLarge): PacketSizeGuard {
  const guard = new PacketSizeGuard(maxBytes);
  const parser = (client as unknown as ClientParser)._parser;
  const parse = parser.parse.bind(parser);
  parser.parse = (buf: Buffer) => {
    if (guard.feed(buf)) return parse(buf);
    if (!client.conn.destroyed) {
      client.conn.destroy();
      onTooLarge(guard.refusedPacketBytes);
    }
    return 0;
  };
  return guard;
}
