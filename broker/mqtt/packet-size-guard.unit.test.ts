import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import type { Client } from 'aedes';
import { describe, expect, it, vi } from 'vitest';
import { PacketSizeGuard, guardPacketSize } from './packet-size-guard.js';
import { varint } from '../../test/helpers/raw-mqtt.js';

/** A PUBLISH-typed packet of exactly `total` bytes (type byte + minimal remaining-length varint + body). */
function packetOfSize(total: number, type = 0x30): Buffer {
  for (let lengthBytes = 1; lengthBytes <= 4; lengthBytes++) {
    const remaining = total - 1 - lengthBytes;
    if (remaining >= 0 && remaining < 128 ** lengthBytes && (lengthBytes === 1 || remaining >= 128 ** (lengthBytes - 1))) {
      return Buffer.concat([Buffer.from([type]), varint(remaining), Buffer.alloc(remaining, 0xab)]);
    }
  }
  throw new Error(`no packet of ${total} bytes`);
}


const byteAtATime = (guard: PacketSizeGuard, data: Buffer) => [...data].every((b) => guard.feed(Buffer.from([b])));

describe('PacketSizeGuard', () => {
  it('follows packets fed one byte at a time, refusing at the header of the first too-large one', () => {
    const guard = new PacketSizeGuard(300);
    expect(byteAtATime(guard, Buffer.concat([packetOfSize(2), packetOfSize(200), packetOfSize(300), packetOfSize(131)]))).toBe(true);
    const tooLarge = packetOfSize(301);
    expect(guard.feed(tooLarge.subarray(0, 1))).toBe(true);
    expect(guard.feed(tooLarge.subarray(1, 2))).toBe(true); // first varint byte, continuation set
    expect(guard.feed(tooLarge.subarray(2, 3))).toBe(false); // the length is known: refused before the body
    expect(guard.refusedPacketBytes).toBe(301);
  });

  it('reads a remaining-length varint split across chunks', () => {
    const guard = new PacketSizeGuard(1_000_000);
    const header = Buffer.concat([Buffer.from([0x10]), varint(200 * 1024 * 1024)]);
    expect(header).toHaveLength(5);
    expect(guard.feed(header.subarray(0, 2))).toBe(true);
    expect(guard.feed(header.subarray(2, 3))).toBe(true);
    expect(guard.feed(header.subarray(3))).toBe(false);
    expect(guard.refusedPacketBytes).toBe(5 + 200 * 1024 * 1024);
  });

  it('skips a body that spans many chunks without misreading it as headers', () => {
    const guard = new PacketSizeGuard(20_000);
    const data = Buffer.concat([packetOfSize(20_000), packetOfSize(10)]); // body bytes 0xab would read as huge lengths
    for (let i = 0; i < data.length; i += 333) expect(guard.feed(data.subarray(i, i + 333))).toBe(true);
    expect(guard.feed(packetOfSize(20_001))).toBe(false);
  });

  it('checks every packet when several arrive in one chunk', () => {
    const guard = new PacketSizeGuard(100);
    expect(guard.feed(Buffer.concat([packetOfSize(2), packetOfSize(100), packetOfSize(50)]))).toBe(true);
    expect(new PacketSizeGuard(100).feed(Buffer.concat([packetOfSize(2), packetOfSize(101), packetOfSize(50)]))).toBe(false);
  });

  it('allows a packet of exactly the limit and refuses one byte more', () => {
    for (const limit of [2, 128, 16_384, 16_385, 262_144]) { // sizes a minimal varint can express
      expect(new PacketSizeGuard(limit).feed(packetOfSize(limit)), `limit ${limit}`).toBe(true);
      expect(new PacketSizeGuard(limit).feed(packetOfSize(limit + 1)), `limit ${limit} + 1`).toBe(false);
    }
  });

  it('refuses a remaining length that would need a fifth byte', () => {
    const guard = new PacketSizeGuard(Number.MAX_SAFE_INTEGER);
    expect(guard.feed(Buffer.from([0x30, 0xff, 0xff, 0xff]))).toBe(true);
    expect(guard.feed(Buffer.from([0xff]))).toBe(false);
    expect(guard.refusedPacketBytes).toBeUndefined();
  });

  it('stays refused once it has refused', () => {
    const guard = new PacketSizeGuard(100);
    expect(guard.feed(packetOfSize(101))).toBe(false);
    expect(guard.feed(packetOfSize(2))).toBe(false);
  });
});

describe('guardPacketSize', () => {
  /** The shape of aedes' Client the guard touches: `conn` and `_parser.parse`. */
  function fakeClient() {
    const parse = vi.fn();
    const conn = new PassThrough();
    const client = Object.assign(new EventEmitter(), { conn, _parser: { parse } });
    return { client: client as unknown as Client, parse, conn, parser: client._parser };
  }

  it('passes buffers to the parser until one announces a too-large packet, then destroys the connection', () => {
    const { client, parse, conn, parser } = fakeClient();
    const onTooLarge = vi.fn();
    guardPacketSize(client, 100, onTooLarge);
    const ok = packetOfSize(100);
    parser.parse(ok);
    expect(parse).toHaveBeenCalledWith(ok);
    parser.parse(packetOfSize(101));
    expect(parse).toHaveBeenCalledTimes(1);
    expect(conn.destroyed).toBe(true);
    expect(onTooLarge).toHaveBeenCalledWith(101);
    parser.parse(packetOfSize(2));
    expect(parse).toHaveBeenCalledTimes(1);
    expect(onTooLarge).toHaveBeenCalledTimes(1);
  });
});
