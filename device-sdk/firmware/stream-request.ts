/**
 * The block request a device publishes on `devices/{id}/streams/{firmwareId}/get`, shaped like
 * AWS IoT MQTT-based file delivery: `{ clientToken?, blocks: [[first, count], …] }`. The broker
 * answers each block on `…/data/{index}` (raw bytes) or once on `…/rejected`.
 */
import { z } from 'zod';
import { BatonError } from '../protocol/errors.js';

/** A run of blocks: `[first, count]`. */
export type BlockRun = [first: number, count: number];

/** At most this many blocks a request, so one request cannot queue a whole image. */
export const MAX_BLOCKS_PER_REQUEST = 64;

export const streamGetRequestSchema = z.strictObject({
  /** Echoed in a rejection so the device can match it to its request. */
  clientToken: z.string().min(1).max(64).optional(),
  blocks: z
    .array(z.tuple([z.int().min(0), z.int().min(1).max(MAX_BLOCKS_PER_REQUEST)]))
    .min(1)
    .max(MAX_BLOCKS_PER_REQUEST),
});

export type StreamGetRequest = z.infer<typeof streamGetRequestSchema>;

/**
 * The distinct block indices a request asks for, ascending. `InvalidRequest` for a malformed
 * request, more than 64 blocks in all, or a block past the image's last one.
 */
export function requestedBlocks(request: unknown, blockCount: number): number[] {
  const parsed = streamGetRequestSchema.safeParse(request);
  if (!parsed.success) throw new BatonError('InvalidRequest', 'The block request does not match its schema.');
  const indices = new Set<number>();
  for (const [first, count] of parsed.data.blocks) {
    if (first + count > blockCount) {
      throw new BatonError('InvalidRequest', `Blocks ${first}..${first + count - 1} go past block ${blockCount - 1}.`);
    }
    for (let i = first; i < first + count; i++) indices.add(i);
    if (indices.size > MAX_BLOCKS_PER_REQUEST) {
      throw new BatonError('InvalidRequest', `At most ${MAX_BLOCKS_PER_REQUEST} blocks a request.`);
    }
  }
  return [...indices].sort((a, b) => a - b);
}
