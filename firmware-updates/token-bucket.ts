/**
 * Token buckets for pacing firmware block delivery (bytes, not messages), pure and on an injected
 * clock. Refill is capped at `depth`, so an event-loop stall (or a suspended VM) cannot bank a
 * burst larger than `depth`, and a clock that steps back refills nothing instead of refilling twice.
 *
 * A take larger than the depth is allowed from a full bucket and leaves it in debt, repaid at the
 * rate before anything else passes: the block is paid in slices *after* it is sent, rather than
 * before. Paying first would break the bound at the socket: a block is sent only when its last
 * slice is paid, so several blocks whose earlier slices were paid before a window could all be sent
 * inside it. Paid after, a grant is a send.
 *
 * Envelope: in any window of W seconds a bucket grants at most rate × W + max(depth, n) bytes,
 * n the window's last take. (Tokens before the window's first take are at most `depth`; the last
 * take needs min(n, depth) of them left; in between at most rate × W flowed in.)
 */
import { BatonError } from '../device-sdk/protocol/errors.js';

export interface Clock {
  /** Milliseconds; a monotonic source (`performance.now`) is best. */
  now(): number;
}

export interface TokenBucketOptions {
  /** Sustained rate, bytes per second. */
  rate: number;
  /** Most tokens held, bytes: what an idle bucket can pass at once (and always one take, whatever its size). */
  depth: number;
  clock: Clock;
  /** Tokens at creation, 0 to `depth`; defaults to a full bucket. */
  initial?: number;
}

export class TokenBucket {
  private _rate = 0;
  private _depth = 0;
  private readonly clock: Clock;
  /** Below 0 while a take larger than the depth is being repaid. */
  private tokens: number;
  private last: number;

  constructor({ rate, depth, clock, initial = depth }: TokenBucketOptions) {
    this.clock = clock;
    this.setRate(rate, depth);
    this.tokens = Math.min(Math.max(initial, 0), depth);
    this.last = clock.now();
  }

  get rate(): number {
    return this._rate;
  }

  get depth(): number {
    return this._depth;
  }

  /**
   * A new rate and depth (a site's uplink was changed), keeping what was taken: tokens earned so far
   * count at the old rate, a debt stays owed, and nothing above the new depth is kept. Replacing the
   * bucket instead would forget a debt and pass a block early.
   */
  retune(rate: number, depth: number): void {
    this.refill();
    this.setRate(rate, depth);
    this.tokens = Math.min(this.tokens, depth);
  }

  private setRate(rate: number, depth: number): void {
    if (!(rate > 0 && Number.isFinite(rate)) || !(depth > 0 && Number.isFinite(depth))) {
      throw new BatonError('InvalidRequest', 'A token bucket needs a finite positive rate and depth.');
    }
    this._rate = rate;
    this._depth = depth;
  }

  /** Tokens available now. */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Takes `n` tokens if `canTake(n)`; never partially. */
  tryTake(n: number): boolean {
    if (!this.canTake(n)) return false;
    this.tokens -= n;
    return true;
  }

  /** Milliseconds until a take of `n` can succeed (0 if now). */
  timeUntil(n: number): number {
    const deficit = this.needed(n) - this.available();
    return deficit <= 0 ? 0 : Math.ceil((deficit * 1000) / this._rate);
  }

  /**
   * Whether a take of `n` can succeed now (refills first): `n` tokens, or a full bucket for a take
   * larger than the depth. Used by `PacingLimiter` to take all or none.
   */
  canTake(n: number): boolean {
    return this.available() >= this.needed(n);
  }

  private needed(n: number): number {
    if (!(n >= 0)) throw new BatonError('InvalidRequest', 'A take must be a non-negative number of bytes.');
    return Math.min(n, this._depth);
  }

  /** True when full: nothing is owed, so it may be dropped (a new one made in its place holds no more). */
  isFull(): boolean {
    return this.available() >= this._depth;
  }

  private refill(): void {
    const now = this.clock.now();
    if (now <= this.last) return;
    this.tokens = Math.min(this._depth, this.tokens + ((now - this.last) * this._rate) / 1000);
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

/**
 * Buckets by key (device id), created on first use; full buckets can be swept away (a bucket made
 * again in its place holds at most as many tokens, so no take passes that would not have).
 */
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

  /** Drops full buckets (never one in debt); returns how many were dropped. */
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
