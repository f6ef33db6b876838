/**
 * Step 5b of a download: fetch the missing blocks with a window of outstanding requests, hand
 * each to the assembler (which verifies it against the chunk table before writing it), and ask
 * again for what went missing.
 *
 * - Up to `storeConcurrency` blocks are stored at once, taken in arrival order: file writes wait
 *   on the thread pool, so one at a time would leave the link idle. A crash loses at most those
 *   (their bits not yet written): that is all a restart fetches twice.
 * - A block that fails its digest is asked for again at once, on its own, up to
 *   `maxDigestRetries`; then the download fails with `ChunkDigestMismatch`.
 * - A block beyond the image or longer than its range fails the download with `TooLarge`: the
 *   device never accepts more than `size` bytes.
 * - Silence (`stallTimeoutMs`) or a reconnect: everything outstanding is asked for again.
 */
import { BatonError, isBatonError } from '../protocol/errors.js';
import type { BlockBitmap } from './bitmap.js';
import type { FetchTiming } from './fetch-timing.js';
import { blockRange, type FirmwareManifest } from './manifest.js';
import { MAX_BLOCKS_PER_REQUEST, type BlockRun } from './stream-request.js';
import { rejectionError, type StreamRejection, type StreamSession } from './stream-session.js';

export interface BlockSink {
  readonly verified: BlockBitmap;
  /** Verifies and stores a block; false for a duplicate. Throws `ChunkDigestMismatch`, `TooLarge`. */
  accept(index: number, data: Uint8Array): Promise<boolean>;
  isComplete(): boolean;
}

/** Ascending indices as `[first, count]` runs. */
export function toRuns(indices: readonly number[]): BlockRun[] {
  const runs: BlockRun[] = [];
  for (const i of [...indices].sort((a, b) => a - b)) {
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === i) last[1]++;
    else runs.push([i, 1]);
  }
  return runs;
}

export class BlockFetcher {
  private readonly requested = new Set<number>();
  private readonly arrived: Array<{ index: number; data: Buffer }> = [];
  private readonly arrivedSet = new Set<number>();
  /** Asked for again before anything new, in requests of their own. */
  private readonly retry = new Set<number>();
  private readonly digestFailures = new Map<number, number>();
  private readonly tokens = new Map<string, number[]>();
  private cursor = 0;
  private requests = 0;
  private stalls = 0;
  private lastProgress: number;
  private pausedUntil = 0;
  private storing = 0;
  private stopped = false;
  private timer: unknown;
  private backoffTimer: unknown;
  private settle: { resolve(): void; reject(err: unknown): void } | undefined;

  constructor(
    private readonly session: Pick<StreamSession, 'handlers' | 'requestBlocks'>,
    private readonly manifest: FirmwareManifest,
    private readonly sink: BlockSink,
    private readonly timing: FetchTiming,
    private readonly onStored: (index: number, bytes: number) => void,
  ) {
    this.lastProgress = timing.now();
  }

  /** Resolves once every block is stored; rejects with the first fatal error or on `stop`. */
  run(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    this.session.handlers = {
      data: (index, payload) => this.onData(index, payload),
      chunkTable: () => undefined,
      rejected: (r) => this.onRejected(r),
      reconnected: () => this.askAgain(),
    };
    if (this.sink.isComplete()) this.finish();
    else {
      this.pump();
      this.arm();
    }
    return done;
  }

  stop(reason: unknown): void {
    this.finish(reason ?? new Error('stopped'));
  }

  /** Blocks asked for or received and not yet stored. */
  private outstanding(): number {
    return this.requested.size + this.arrivedSet.size;
  }

  private pump(): void {
    if (this.stopped || this.timing.now() < this.pausedUntil) return;
    while (this.retry.size > 0 && this.outstanding() < this.timing.window) {
      const batch = [...this.retry].slice(0, Math.min(MAX_BLOCKS_PER_REQUEST, this.timing.window - this.outstanding()));
      for (const i of batch) this.retry.delete(i);
      this.ask(batch);
    }
    // Fresh blocks in requests of up to half the window, so the window refills in large requests.
    const batchSize = Math.max(1, Math.min(MAX_BLOCKS_PER_REQUEST, Math.floor(this.timing.window / 2)));
    while (this.timing.window - this.outstanding() >= batchSize || this.outstanding() === 0) {
      const batch = this.fresh(Math.min(batchSize, this.timing.window - this.outstanding()));
      if (batch.length === 0) break;
      this.ask(batch);
    }
  }

  /** The next blocks nobody has asked for: not stored, requested, received or due for a retry. */
  private fresh(max: number): number[] {
    const batch: number[] = [];
    const { verified } = this.sink;
    for (; this.cursor < verified.blockCount && batch.length < max; this.cursor++) {
      const i = this.cursor;
      if (!verified.has(i) && !this.requested.has(i) && !this.arrivedSet.has(i) && !this.retry.has(i)) batch.push(i);
    }
    return batch;
  }

  private ask(batch: number[]): void {
    const token = `blocks-${++this.requests}`;
    this.tokens.set(token, batch);
    if (this.tokens.size > 64) this.tokens.delete(this.tokens.keys().next().value!);
    for (const i of batch) this.requested.add(i);
    this.session.requestBlocks(token, toRuns(batch));
  }

  private onData(index: number, data: Buffer): void {
    if (this.stopped) return;
    const range = blockRange(index, this.manifest.size, this.manifest.chunkSize);
    if (!range || data.length > range.length) {
      return this.finish(new BatonError('TooLarge', `Block ${index} (${data.length} bytes) lies beyond the image's ${this.manifest.size} bytes.`));
    }
    this.requested.delete(index);
    if (this.sink.verified.has(index) || this.arrivedSet.has(index)) return; // a duplicate delivery
    this.retry.delete(index);
    this.arrived.push({ index, data });
    this.arrivedSet.add(index);
    this.lastProgress = this.timing.now();
    this.stalls = 0;
    this.work();
  }

  /** Stores received blocks in arrival order, `storeConcurrency` at a time (1: strictly one after another). */
  private work(): void {
    while (!this.stopped && this.storing < this.timing.storeConcurrency && this.arrived.length > 0) {
      this.storing++;
      void this.storeNext().finally(() => {
        this.storing--;
        this.work();
      });
    }
  }

  private async storeNext(): Promise<void> {
    const { index, data } = this.arrived.shift()!;
    try {
      if (await this.sink.accept(index, data)) this.onStored(index, data.length);
    } catch (err) {
      if (!this.retryable(index, err)) return this.finish(err);
      this.retry.add(index);
    } finally {
      this.arrivedSet.delete(index);
    }
    if (this.sink.isComplete()) return this.finish();
    this.pump();
  }

  private retryable(index: number, err: unknown): boolean {
    if (!isBatonError(err) || err.code !== 'ChunkDigestMismatch') return false;
    const failures = (this.digestFailures.get(index) ?? 0) + 1;
    this.digestFailures.set(index, failures);
    return failures <= this.timing.maxDigestRetries;
  }

  private onRejected(r: StreamRejection): void {
    if (r.code !== 'RateLimited') return this.finish(rejectionError(r));
    for (const i of (r.clientToken && this.tokens.get(r.clientToken)) || []) {
      if (this.requested.delete(i)) this.retry.add(i);
    }
    this.pausedUntil = this.timing.now() + this.timing.rateLimitedBackoffMs;
    this.timing.clock.clearTimeout(this.backoffTimer);
    this.backoffTimer = this.timing.clock.setTimeout(() => this.pump(), this.timing.rateLimitedBackoffMs);
  }

  /** After silence or a reconnect: what was asked for is asked for again. */
  private askAgain(): void {
    for (const i of this.requested) this.retry.add(i);
    this.requested.clear();
    this.lastProgress = this.timing.now();
    this.pausedUntil = 0;
    this.pump();
  }

  /** Checks for silence every half stall timeout. */
  private arm(): void {
    const { clock, stallTimeoutMs } = this.timing;
    this.timer = clock.setTimeout(() => {
      if (this.stopped) return;
      if (this.requested.size > 0 && this.timing.now() - this.lastProgress >= stallTimeoutMs) {
        if (++this.stalls > this.timing.maxStalls) return this.finish(new BatonError('Unavailable', `No block arrived for ${this.stalls} × ${stallTimeoutMs} ms.`));
        this.askAgain();
      } else if (this.outstanding() === 0) this.pump();
      this.arm();
    }, Math.max(1, stallTimeoutMs / 2));
  }

  private finish(err?: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timing.clock.clearTimeout(this.timer);
    this.timing.clock.clearTimeout(this.backoffTimer);
    this.session.handlers = { ...this.session.handlers, data() {}, rejected() {}, reconnected() {} };
    if (err === undefined) this.settle?.resolve();
    else this.settle?.reject(err);
  }
}
