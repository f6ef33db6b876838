/**
 * How a download asks and waits. Blocks travel at QoS 0, so a lost request or block is noticed by
 * silence: when nothing arrives for `stallTimeoutMs` while blocks are asked for, they are asked
 * for again (the broker does not queue a block twice, so asking again is cheap).
 */
import type { Clock } from '../clock.js';

export interface FetchTiming {
  /** Blocks asked for and not yet stored, at most. The broker's bound is 256 by default. */
  window: number;
  /** Silence after which outstanding blocks (or the chunk table) are asked for again. */
  stallTimeoutMs: number;
  /** Consecutive stalls without any progress before the download fails with `Unavailable`. */
  maxStalls: number;
  /** Times one block (or the chunk table) may fail its digest before the download fails with it. */
  maxDigestRetries: number;
  /**
   * Blocks being verified and stored at once (default 32). The assembler writes the ones that wait
   * together, so more means fewer, larger writes; a killed process costs at most this many blocks
   * fetched again.
   */
  storeConcurrency: number;
  /** Wait after a `RateLimited` rejection before asking again. */
  rateLimitedBackoffMs: number;
  /** Timers (the SDK's injectable clock) … */
  clock: Clock;
  /** … and monotonic milliseconds, for stall detection and rates. */
  now: () => number;
}

export const defaultFetchTiming = {
  window: 128,
  stallTimeoutMs: 10_000,
  maxStalls: 6,
  maxDigestRetries: 3,
  storeConcurrency: 32,
  rateLimitedBackoffMs: 1_000,
} as const satisfies Partial<FetchTiming>;
