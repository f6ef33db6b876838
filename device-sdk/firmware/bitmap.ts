/**
 * Which blocks of a download are verified and written to the slot: one bit a block, lowest bit
 * of byte 0 first. `BitmapFile` keeps it on storage beside the slot so a restart resumes where it
 * stopped (RFC 9124 REQ.USE.MFST.RESUME spirit).
 */
import { BatonError } from '../protocol/errors.js';
import { MAX_BLOCKS_PER_REQUEST, type BlockRun } from './stream-request.js';

export class BlockBitmap {
  private readonly bits: Uint8Array;
  private count = 0;

  constructor(
    readonly blockCount: number,
    bits?: Uint8Array,
  ) {
    const byteLength = BlockBitmap.byteLength(blockCount);
    if (bits && bits.length !== byteLength) {
      throw new BatonError('InvalidRequest', `A bitmap of ${blockCount} blocks has ${byteLength} bytes.`);
    }
    this.bits = bits ? Uint8Array.from(bits) : new Uint8Array(byteLength);
    // Bits past the last block mean nothing; dropping them keeps `verifiedCount` honest.
    if (blockCount % 8 !== 0 && byteLength > 0) this.bits[byteLength - 1]! &= (1 << (blockCount % 8)) - 1;
    for (let i = 0; i < blockCount; i++) if (this.has(i)) this.count++;
  }

  static byteLength(blockCount: number): number {
    return Math.ceil(blockCount / 8);
  }

  has(index: number): boolean {
    return ((this.bits[index >> 3] ?? 0) & (1 << (index & 7))) !== 0;
  }

  set(index: number): void {
    this.checkIndex(index);
    if (this.has(index)) return;
    this.bits[index >> 3]! |= 1 << (index & 7);
    this.count++;
  }

  clear(index: number): void {
    this.checkIndex(index);
    if (!this.has(index)) return;
    this.bits[index >> 3]! &= ~(1 << (index & 7));
    this.count--;
  }

  /** A copy of bytes `from..to` (inclusive) as they are now: what a positioned write stores. */
  bytes(from: number, to: number): Uint8Array {
    return this.bits.slice(from, to + 1);
  }

  get verifiedCount(): number {
    return this.count;
  }

  isComplete(): boolean {
    return this.verifiedCount === this.blockCount;
  }

  /** The missing blocks as runs, lowest first, totalling at most `maxBlocks` (one request's worth). */
  missingRuns(maxBlocks = MAX_BLOCKS_PER_REQUEST): BlockRun[] {
    const runs: BlockRun[] = [];
    let budget = maxBlocks;
    for (let i = 0; i < this.blockCount && budget > 0; i++) {
      if (this.has(i)) continue;
      const last = runs[runs.length - 1];
      if (last && last[0] + last[1] === i) last[1]++;
      else runs.push([i, 1]);
      budget--;
    }
    return runs;
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.blockCount) {
      throw new BatonError('InvalidRequest', `Block ${index} is outside 0..${this.blockCount - 1}.`);
    }
  }
}
