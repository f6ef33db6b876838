/**
 * Which blocks of a download are verified and safely on storage: one bit a block, persisted in the
 * device state so a restart resumes where it stopped (RFC 9124 REQ.USE.MFST.RESUME spirit).
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
    const byteLength = Math.ceil(blockCount / 8);
    if (bits && bits.length !== byteLength) {
      throw new BatonError('InvalidRequest', `A bitmap of ${blockCount} blocks has ${byteLength} bytes.`);
    }
    this.bits = bits ? Uint8Array.from(bits) : new Uint8Array(byteLength);
    for (let i = 0; i < blockCount; i++) if (this.has(i)) this.count++;
  }

  static fromBase64(blockCount: number, encoded: string): BlockBitmap {
    return new BlockBitmap(blockCount, Buffer.from(encoded, 'base64'));
  }

  toBase64(): string {
    return Buffer.from(this.bits).toString('base64');
  }

  has(index: number): boolean {
    return ((this.bits[index >> 3] ?? 0) & (1 << (index & 7))) !== 0;
  }

  set(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.blockCount) {
      throw new BatonError('InvalidRequest', `Block ${index} is outside 0..${this.blockCount - 1}.`);
    }
    if (this.has(index)) return;
    this.bits[index >> 3] = (this.bits[index >> 3] ?? 0) | (1 << (index & 7));
    this.count++;
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
}
