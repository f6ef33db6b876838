/**
 * Token buckets for pacing firmware block delivery (bytes, not messages), pure and on an injected
 * clock. Envelope guarantee: in any window of W seconds a bucket grants at most rate × W + depth
 * bytes. Refill is capped at `depth`, so an event-loop stall (or a suspended VM) cannot bank a
 * burst larger than `depth`, and a clock that steps back refills nothing instead of refilling twice.
 */
import { BatonError } from '../device-sdk/protocol/errors.js';

export interface Clock {
  /** Milliseconds; a monotonic source (`performance.now`) is best. */
  now(): number;
}

export interface TokenBucketOptions {
  /** Sustained rate, bytes per second. */
  rate: number;
  /** Largest burst, bytes; also the largest single take that can ever succeed. */
  depth: number;
  clock: Clock;
  /** Tokens at creation; defaults to a full bucket. */
  initial?: number;
}

export class TokenBucket {
  readonly rate: number;
  readonly depth: number;
  private readonly clock: Clock;
  private tokens: number;
  private last: number;

  constructor({ rate, depth, clock, initial = depth }: TokenBucketOptions) {
    if (!(rate > 0 && Number.isFinite(rate)) || !(depth > 0 && Number.isFinite(depth))) {
      throw new BatonError('InvalidRequest', 'A token bucket needs a finite positive rate and depth.');
    }
    this.rate = rate;
    this.depth = depth;
    this.clock = clock;
    this.tokens = Math.min(Math.max(initial, 0), depth);
    this.last = clock.now();
  }

  /** Tokens available now. */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Takes `n` tokens if all are available; never partially. */
  tryTake(n: number): boolean {
    if (!this.canTake(n)) return false;
    this.tokens -= n;
    return true;
  }

  /** Milliseconds until `n` tokens will be available (0 if now); `Infinity` if `n` exceeds the depth. */
  timeUntil(n: number): number {
    if (n > this.depth) return Infinity;
    const deficit = n - this.available();
    return deficit <= 0 ? 0 : Math.ceil((deficit * 1000) / this.rate);
  }

  /** Whether `n` tokens are available now (refills first). Used by `PacingLimiter` to take all or none. */
  canTake(n: number): boolean {
    if (!(n >= 0)) throw new BatonError('InvalidRequest', 'A take must be a non-negative number of bytes.');
    return this.available() >= n;
  }

  /** True when full: such a bucket is indistinguishable from a new one and may be dropped. */
  isFull(): boolean {
    return this.available() >= this.depth;
  }

  private refill(): void {
    const now = this.clock.now();
    if (now <= this.last) return;
    this.tokens = Math.min(this.depth, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }
}

/**
 * Several buckets that must all agree, e.g. per device, per site and global: a take succeeds on
 * every bucket or on none, so one saturated level never leaks tokens from the others.
 */
export class PacingLimiter {
  constructor(private readonly buckets: readonly TokenBucket[]) {}

  tryTake(n: number): boolean {
    if (!this.buckets.every((b) => b.canTake(n))) return false;
    for (const bucket of this.buckets) bucket.tryTake(n);
    return true;
  }

  /** The longest wait of any bucket: the earliest moment a take of `n` could succeed. */
  timeUntil(n: number): number {
    return Math.max(0, ...this.buckets.map((b) => b.timeUntil(n)));
  }
}

/** Buckets by key (device id, site id), created on first use; full buckets can be swept away. */
export class BucketPool {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly options: TokenBucketOptions) {}

  get(key: string): TokenBucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.options);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  /** Drops full buckets (a full bucket equals a fresh one); returns how many were dropped. */
  sweep(): number {
    let dropped = 0;
    for (const [key, bucket] of this.buckets) {
      if (bucket.isFull()) {
        this.buckets.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  get size(): number {
    return this.buckets.size;
  }
}
