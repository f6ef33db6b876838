import { randomBytes } from 'node:crypto';
import mqttPacket, { type IPublishPacket } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { topics } from '../../device-sdk/protocol/topics.js';
import { blockFrame, packetFrame, type Frame } from './block-frames.js';

/** An image served in `chunkSize` blocks, counting its reads. */
function imageOf(size: number, chunkSize: number) {
  const image = randomBytes(size);
  const reads: Array<[position: number, length: number]> = [];
  const blockBytes = (i: number) => Math.min(chunkSize, size - i * chunkSize);
  return {
    image,
    reads,
    blockBytes,
    async readBlocks(first: number, count: number, target: Buffer, offset: number) {
      const position = first * chunkSize;
      const length = Math.min((first + count) * chunkSize, size) - position;
      reads.push([position, length]);
      image.copy(target, offset, position, position + length);
    },
  };
}

/** What an MQTT client reads from the bytes: mqtt-packet's own parser, as mqtt.js uses it. */
function parse(bytes: Buffer, protocolVersion = 4): IPublishPacket[] {
  const parser = mqttPacket.parser({ protocolVersion });
  const packets: IPublishPacket[] = [];
  parser.on('packet', (p) => packets.push(p as IPublishPacket));
  parser.on('error', (err) => {
    throw err;
  });
  parser.parse(bytes);
  return packets;
}

const DEVICE = 'dev-1';
const FIRMWARE = 'sensor-1.0.0-0123456789abcdef';
const prefix = Buffer.from(topics.streamData(DEVICE, FIRMWARE, 0).slice(0, -1));

describe('block frames', () => {
  it.each([
    ['1-byte remaining lengths, indices 8..12 across a digit', 50, 8, 5],
    ['2-byte remaining lengths, indices 98..101, the last block short', 16_384, 98, 4],
    ['3-byte remaining lengths (128 KiB blocks)', 128 * 1024, 0, 3],
  ])('encodes %s as the QoS 0 PUBLISH packets a client parses, read in one positioned read', async (_, chunkSize, first, count) => {
    const blocks = first + count;
    const size = blocks * chunkSize - (chunkSize > 1000 ? 123 : 0);
    const source = imageOf(size, chunkSize);
    const frame = await blockFrame(source, prefix, first, count);
    expect(source.reads).toHaveLength(1);
    for (const protocolVersion of [3, 4]) {
      const packets = parse(frame.bytes, protocolVersion);
      expect(packets.map((p) => p.topic)).toEqual(Array.from({ length: count }, (_, k) => topics.streamData(DEVICE, FIRMWARE, first + k)));
      packets.forEach((p, k) => {
        const i = first + k;
        expect({ qos: p.qos, retain: p.retain, dup: p.dup }).toEqual({ qos: 0, retain: false, dup: false });
        expect(Buffer.compare(p.payload as Buffer, source.image.subarray(i * chunkSize, i * chunkSize + source.blockBytes(i)))).toBe(0);
      });
    }
    expect(frame.payloads).toEqual(Array.from({ length: count }, (_, k) => source.blockBytes(first + k)));
    expect(frame.ends.at(-1)).toBe(frame.bytes.length);
  });

  it('splits at packet boundaries: any run of packets is whole packets', async () => {
    const source = imageOf(20 * 1000, 1000);
    const frame: Frame = await blockFrame(source, prefix, 3, 10);
    const part = frame.bytes.subarray(frame.ends[3], frame.ends[6]);
    expect(parse(part).map((p) => p.topic)).toEqual([7, 8, 9].map((i) => topics.streamData(DEVICE, FIRMWARE, i)));
  });

  it('encodes one packet on a topic of its own (the chunk table)', () => {
    const table = randomBytes(32 * 300);
    const topic = topics.chunkTable(DEVICE, FIRMWARE);
    const frame = packetFrame(topic, table);
    const [packet, ...rest] = parse(frame.bytes);
    expect(rest).toEqual([]);
    expect(packet).toMatchObject({ topic, qos: 0 });
    expect(Buffer.compare(packet!.payload as Buffer, table)).toBe(0);
    expect(frame).toMatchObject({ ends: [frame.bytes.length], payloads: [table.length] });
  });
});
