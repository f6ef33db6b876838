/**
 * Firmware blocks as MQTT PUBLISH packets, encoded here so that a run of blocks is one buffer and
 * one socket write: `[header₀ block₀ header₁ block₁ …]`, the blocks read from the image with one
 * positioned read straight into that buffer. Nothing is allocated per block.
 *
 * The packets are what aedes would write for a broker publish at QoS 0 (MQTT 3.1.1 §3.3, and 3.1
 * alike; aedes accepts no other level): the fixed header 0x30 (PUBLISH, QoS 0, no DUP, no
 * RETAIN), the remaining length as a varint, the topic as a length-prefixed string, then the
 * payload. QoS 0 has no packet identifier.
 */
import type { ServedFirmware } from './served.js';

const PUBLISH_QOS0 = 0x30;

/** Bytes of the remaining-length varint (7 bits a byte, MQTT 3.1.1 §2.2.3). */
const varintBytes = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4);

/** Decimal digits of a block index. */
function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

const headerBytes = (topicBytes: number, payloadBytes: number) => {
  const remaining = 2 + topicBytes + payloadBytes;
  return 1 + varintBytes(remaining) + 2 + topicBytes;
};

/**
 * Writes a PUBLISH header at `at` for the topic `prefix` followed by `index` in decimal (none when
 * undefined); returns where the payload starts.
 */
function writeHeader(target: Buffer, at: number, prefix: Buffer, index: number | undefined, payloadBytes: number): number {
  const topicBytes = prefix.length + (index === undefined ? 0 : digits(index));
  target[at++] = PUBLISH_QOS0;
  for (let rest = 2 + topicBytes + payloadBytes; ; ) {
    const byte = rest % 0x80;
    rest = Math.floor(rest / 0x80);
    target[at++] = rest > 0 ? byte | 0x80 : byte;
    if (rest === 0) break;
  }
  at = target.writeUInt16BE(topicBytes, at);
  at += prefix.copy(target, at);
  if (index !== undefined) {
    const end = at + digits(index);
    for (let i = end - 1, n = index; i >= at; i--, n = Math.floor(n / 10)) target[i] = 0x30 + (n % 10);
    at = end;
  }
  return at;
}

/** Packets end to end in one buffer. */
export interface Frame {
  bytes: Buffer;
  /** Where packet i ends in `bytes` (packets i..j are `bytes[ends[i - 1] ?? 0, ends[j])`). */
  ends: number[];
  /** Payload bytes of packet i: what pacing pays for it. */
  payloads: number[];
}

/**
 * Blocks `first`..`first + count - 1` as PUBLISH packets on `{topicPrefix}{index}`. The blocks
 * are read in one positioned read to the end of the buffer, then each is moved down into place
 * behind its header, front to back: a block only ever moves toward the front, and lands before
 * the next block's bytes begin, so nothing still to be moved is overwritten.
 */
export async function blockFrame(firmware: Pick<ServedFirmware, 'blockBytes' | 'readBlocks'>, topicPrefix: Buffer, first: number, count: number): Promise<Frame> {
  const payloads: number[] = [];
  let headers = 0;
  let body = 0;
  for (let i = first; i < first + count; i++) {
    const length = firmware.blockBytes(i);
    payloads.push(length);
    headers += headerBytes(topicPrefix.length + digits(i), length);
    body += length;
  }
  // Every byte is written below (headers, then the blocks read): no need to zero it first.
  const bytes = Buffer.allocUnsafe(headers + body);
  await firmware.readBlocks(first, count, bytes, headers);
  const ends: number[] = [];
  let at = 0;
  let from = headers;
  for (let k = 0; k < count; k++) {
    const length = payloads[k]!;
    at = writeHeader(bytes, at, topicPrefix, first + k, length);
    bytes.copyWithin(at, from, from + length);
    at += length;
    from += length;
    ends.push(at);
  }
  return { bytes, ends, payloads };
}

/** One PUBLISH packet of `payload` on `topic` (the chunk table). */
export function packetFrame(topic: string, payload: Buffer): Frame {
  const prefix = Buffer.from(topic);
  const bytes = Buffer.allocUnsafe(headerBytes(prefix.length, payload.length) + payload.length);
  payload.copy(bytes, writeHeader(bytes, 0, prefix, undefined, payload.length));
  return { bytes, ends: [bytes.length], payloads: [payload.length] };
}
