/**
 * Server side of the chunk table: the concatenation of every block's raw 32-byte SHA-256, block i
 * covering bytes [i*chunkSize, min((i+1)*chunkSize, size)). Its own SHA-256 goes into the signed
 * manifest, so one signature covers every block (the Merkle-list shape of RFC 9124's integrity
 * check, flattened to one level because a device needs only one table entry a block).
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { DEFAULT_CHUNK_SIZE } from '../device-sdk/firmware/manifest.js';
import { BatonError } from '../device-sdk/protocol/errors.js';

export { blockCount, blockRange } from '../device-sdk/firmware/manifest.js';

/** Everything a manifest needs to know about an image's bytes. */
export interface ImageDigest {
  size: number;
  /** Hex SHA-256 of the whole image. */
  sha256: string;
  chunkSize: number;
  chunkTable: Buffer;
  chunkTableSha256: string;
}

/**
 * Hashes an image fed in pieces of any size, in one pass: whole-image digest and chunk table
 * together, so an upload is read exactly once and never held in memory.
 */
export class ImageDigester {
  private readonly whole = createHash('sha256');
  private chunk: Hash = createHash('sha256');
  private inChunk = 0;
  private readonly digests: Buffer[] = [];
  size = 0;

  constructor(readonly chunkSize = DEFAULT_CHUNK_SIZE) {
    // A zero or fractional size would never close a chunk.
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
      throw new BatonError('InvalidRequest', `Chunk size ${chunkSize} is not a positive integer.`);
    }
  }

  update(data: Uint8Array): void {
    this.whole.update(data);
    this.size += data.length;
    let at = 0;
    while (at < data.length) {
      const take = Math.min(this.chunkSize - this.inChunk, data.length - at);
      this.chunk.update(data.subarray(at, at + take));
      this.inChunk += take;
      at += take;
      if (this.inChunk === this.chunkSize) this.closeChunk();
    }
  }

  digest(): ImageDigest {
    if (this.inChunk > 0) this.closeChunk();
    const chunkTable = Buffer.concat(this.digests);
    return {
      size: this.size,
      sha256: this.whole.digest('hex'),
      chunkSize: this.chunkSize,
      chunkTable,
      chunkTableSha256: createHash('sha256').update(chunkTable).digest('hex'),
    };
  }

  private closeChunk(): void {
    this.digests.push(this.chunk.digest());
    this.chunk = createHash('sha256');
    this.inChunk = 0;
  }
}

/** Digests a file by streaming it. */
export async function digestFile(path: string, chunkSize = DEFAULT_CHUNK_SIZE): Promise<ImageDigest> {
  const digester = new ImageDigester(chunkSize);
  for await (const piece of createReadStream(path)) digester.update(piece as Buffer);
  return digester.digest();
}
