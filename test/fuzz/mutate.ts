/**
 * Byte-level mutation of MQTT packets: flip, overwrite, insert, delete, truncate, and the fixed
 * header edits that matter most to a broker (type-and-flags byte, remaining length that lies in
 * either direction, oversize or malformed length varints). Positions are naturals taken modulo the
 * packet length, so a mutation means the same thing whatever packet it is applied to.
 */
import fc from 'fast-check';

export type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'truncate'; at: number }
  | { op: 'firstByte'; value: number }
  | { op: 'length'; varint: number[] }
  | { op: 'duplicate'; at: number; length: number };

/** Remaining-length encodings: oversize (up to the 256 MB maximum), just past 256 KiB, a 5th byte, zero, overlong. */
const hostileLengths: number[][] = [
  [0xff, 0xff, 0xff, 0x7f], // 268,435,455: the largest legal remaining length
  [0xff, 0xff, 0xff, 0xff, 0x01], // a fifth length byte: malformed [MQTT-2.2.3]
  [0xff, 0xff, 0xff, 0xff], // continuation bit on the 4th byte, then whatever follows
  [0x81, 0x80, 0x10], // 262,145: one past the default packet limit
  [0x80, 0x80, 0x10], // 262,144: exactly the default limit
  [0x80, 0x80, 0x80, 0x00], // overlong encoding of 0
  [0x00],
  [0x01],
  [0x7f],
  [0xff, 0x7f], // 16,383
];

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x01, 0x23, 0x2b, 0x2f) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('firstByte' as const), value: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('length' as const), varint: fc.oneof(fc.constantFrom(...hostileLengths), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 5 })) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }) },
);

/** Where the remaining length ends (index of the first body byte), reading at most 4 length bytes. */
function bodyStart(b: Buffer): number {
  let i = 1;
  while (i < b.length && i < 5 && (b[i]! & 0x80) !== 0) i++;
  return Math.min(i + 1, b.length);
}

export function applyMutation(input: Buffer, m: Mutation): Buffer {
  const b = Buffer.from(input);
  const n = b.length;
  switch (m.op) {
    case 'flip':
      if (n > 0) b[m.at % n]! ^= 1 << m.bit;
      return b;
    case 'set':
      if (n > 0) b[m.at % n] = m.value;
      return b;
    case 'insert': {
      const at = m.at % (n + 1);
      return Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    }
    case 'delete': {
      const at = n ? m.at % n : 0;
      return Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)]);
    }
    case 'truncate':
      return b.subarray(0, n ? m.at % n : 0);
    case 'firstByte':
      if (n > 0) b[0] = m.value;
      return b;
    case 'length':
      return n === 0 ? b : Buffer.concat([b.subarray(0, 1), Buffer.from(m.varint), b.subarray(bodyStart(b))]);
    case 'duplicate': {
      const at = n ? m.at % n : 0;
      return Buffer.concat([b.subarray(0, at + m.length), b.subarray(at)]);
    }
  }
}

export const applyMutations = (b: Buffer, ms: readonly Mutation[]): Buffer => ms.reduce(applyMutation, b);

