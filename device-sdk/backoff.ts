/**
 * Reconnect delays: exponential backoff with "Full Jitter", as defined and measured in Marc
 * Brooker, "Exponential Backoff and Jitter", AWS Architecture Blog, 2015
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/):
 *
 *     sleep = random_between(0, min(cap, base * 2 ** attempt))
 *
 * Why full jitter: when a broker restarts, its whole fleet loses the link in the same second.
 * Without jitter every device retries in lock-step and meets the broker again all at once at
 * each step; of the variants the post compares, full jitter spreads the retries widest and does
 * the least total work. It is also a pure function of the attempt number (decorrelated jitter
 * needs the previous delay), so the reconnect loop keeps no state but a counter.
 */
export interface BackoffOptions {
  /** `base`: the width of the first retry window, in ms. */
  minMs: number;
  /** `cap`: no window is wider than this, in ms. */
  maxMs: number;
}

/** The upper bound of the window for `attempt` (0-based): `min(maxMs, minMs * 2 ** attempt)`. */
export function backoffCeiling(attempt: number, { minMs, maxMs }: BackoffOptions): number {
  // 2 ** 1024 is Infinity, which Math.min turns into the cap: no overflow to guard against.
  return Math.min(maxMs, minMs * 2 ** Math.max(0, attempt));
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry after a drop), in whole
 * ms, uniformly distributed in `[0, backoffCeiling(attempt))`. `random` returns values in [0, 1).
 */
export function nextDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeiling(attempt, options));
}
