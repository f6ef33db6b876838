/**
 * Pure checks of downloaded bytes. The chain of trust runs manifest (signed) → chunk table
 * (its SHA-256 is in the manifest) → each block (its SHA-256 is in the table) → whole image
 * (its SHA-256 is in the manifest, checked again at the end; RFC 9124 REQ.SEC.AUTH.IMG_TYPE).
 * Per-block digests let a device reject a bad block at once instead of after the whole download.
 */
import { createHash } from 'node:crypto';
import { BatonError } from '../protocol/errors.js';
import { blockCount, blockRange, type FirmwareManifest } from './manifest.js';

/** Each chunk-table entry is one raw SHA-256. */
export const DIGEST_BYTES = 32;

export const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();

type ImageLayout = Pick<FirmwareManifest, 'size' | 'chunkSize'>;

/** Checks a received chunk table against the manifest before any block is trusted with it. */
export function verifyChunkTable(table: Uint8Array, manifest: FirmwareManifest): void {
  const expectedLength = blockCount(manifest.size, manifest.chunkSize) * DIGEST_BYTES;
  if (table.length !== expectedLength) {
    throw new BatonError('ChunkTableMismatch', `The chunk table has ${table.length} bytes, not ${expectedLength}.`);
  }
  if (sha256(table).toString('hex') !== manifest.chunkTableSha256) {
    throw new BatonError('ChunkTableMismatch', "The chunk table's SHA-256 differs from the manifest.");
  }
}

/** The byte range block `index` must fill; `TooLarge` for an index past the image's end. */
export function expectedBlock(layout: ImageLayout, index: number): { offset: number; length: number } {
  const range = blockRange(index, layout.size, layout.chunkSize);
  if (!range) throw new BatonError('TooLarge', `Block ${index} lies beyond the image's ${layout.size} bytes.`);
  return range;
}

/**
 * Verifies one block against a verified chunk table. A block longer than its range is `TooLarge`
 * (never accept more than `size` bytes); any other difference is `ChunkDigestMismatch`.
 */
export function verifyBlock(layout: ImageLayout, table: Uint8Array, index: number, data: Uint8Array): void {
  const { length } = expectedBlock(layout, index);
  if (data.length > length) {
    throw new BatonError('TooLarge', `Block ${index} has ${data.length} bytes; at most ${length} belong to the image.`);
  }
  const expected = table.subarray(index * DIGEST_BYTES, (index + 1) * DIGEST_BYTES);
  if (data.length !== length || !sha256(data).equals(expected)) {
    throw new BatonError('ChunkDigestMismatch', `Block ${index} differs from the chunk table.`, { index });
  }
}

/** The final whole-image check, over a digest the caller computed from storage. */
export function verifyImageDigest(manifest: FirmwareManifest, size: number, digestHex: string): void {
  if (size !== manifest.size || digestHex !== manifest.sha256) {
    throw new BatonError('ImageDigestMismatch', "The stored image's SHA-256 differs from the manifest.");
  }
}
