/**
 * Which byte buckets a device's firmware blocks pass, and how deep each is: the one pacing of
 * block delivery, used by the broker (`broker/firmware/delivery.ts`) and by the discrete-event
 * simulator (`simulator/discrete/`), so the simulator's figures are evidence about production.
 *
 * Levels: per device (`BATON_FIRMWARE_DEVICE_BYTES_PER_SEC`, or the device's own reported link,
 * the lower of the two when both are set), per site (80% of its `uplinkBytesPerSec`, leaving the
 * rest of a constrained uplink to telemetry and control traffic) and global
 * (`BATON_EGRESS_BYTES_PER_SEC`). A block passes all of them or none (`PacingLimiter`); a rate of
 * 0 adds no bucket.
 *
 * Link-true sizing: every bucket holds at most `PACING_HORIZON_MS` of its own rate (never more than
 * `maxDepthBytes`), starts empty, and passes one block of any size when full (token-bucket.ts).
 * So in any window of W s a level at rate R grants at most R × W + max(one block, R × 10 ms) —
 * exactly R × W + one block wherever 10 ms of the rate is less than a block (a site budget below
 * 409.6 kB/s with 4 KiB blocks, 1.6 MB/s with 16 KiB). Why not a depth of one block everywhere:
 * Node timers wake ~1 ms late or more, so a bucket that holds one small block passes about one
 * block per wake, far below a fast rate (100 MB/s in 4 KiB blocks is 40 µs a block). The 10 ms
 * absorb that lateness on fast links, and are still only 10 ms of the link.
 */
import { BucketPool, PacingLimiter, TokenBucket, type Clock } from './token-bucket.js';

/** The share of a site's uplink that firmware may use. */
export const SITE_UPLINK_SHARE = 0.8;
/** What a bucket holds at most, in time of its own rate: the timer lateness it absorbs on fast links. */
export const PACING_HORIZON_MS = 10;
/** Default ceiling on any bucket's depth (`BATON_FIRMWARE_BURST_BYTES`): 10 ms of ~100 MB/s. */
export const DEFAULT_MAX_DEPTH_BYTES = 1024 * 1024;
/** Idle per-device and per-site buckets are dropped this often (their replacements start empty). */
export const PACING_SWEEP_INTERVAL_MS = 60_000;

/** The depth of a bucket at `rate` bytes/s. */
export function bucketDepth(rate: number, maxDepthBytes: number): number {
  return Math.min(maxDepthBytes, (rate * PACING_HORIZON_MS) / 1000);
}

/** The most a level at `rate` grants in any window of `windowMs` when no block exceeds `blockBytes`. */
export function envelopeBytes(rate: number, windowMs: number, blockBytes: number, maxDepthBytes: number): number {
  return (rate * windowMs) / 1000 + Math.max(blockBytes, bucketDepth(rate, maxDepthBytes));
}

/** A site as pacing sees it. */
export interface PacedSite {
  id: string;
  uplinkBytesPerSec: number;
}

export interface Pacing {
  /** The limiter a device's blocks pass; `site` is the device's site, if it has one. */
  limiterFor(deviceId: string, site: PacedSite | undefined): PacingLimiter;
  /** Drops idle (full) per-device and per-site buckets. */
  sweep(): void;
}

export interface PacingOptions {
  /** 0: no default per-device cap. */
  deviceBytesPerSec: number;
  /** 0: no global cap. */
  globalBytesPerSec: number;
  /** Ceiling on any bucket's depth (`BATON_FIRMWARE_BURST_BYTES`). */
  maxDepthBytes: number;
  /** Share of a site's uplink; default `SITE_UPLINK_SHARE`. */
  siteShare?: number;
  clock: Clock;
  /** A device's own rate (e.g. its reported link), used for its bucket instead of `deviceBytesPerSec` (the lower of the two when both are set). */
  deviceRate?(deviceId: string): number | undefined;
}

export function createPacing({ deviceBytesPerSec, globalBytesPerSec, maxDepthBytes, siteShare = SITE_UPLINK_SHARE, clock, deviceRate }: PacingOptions): Pacing {
  const options = (rate: number) => ({ rate, depth: bucketDepth(rate, maxDepthBytes), initial: 0, clock });
  const global = globalBytesPerSec > 0 ? new TokenBucket(options(globalBytesPerSec)) : undefined;
  const devices = deviceBytesPerSec > 0 ? new BucketPool(options(deviceBytesPerSec)) : undefined;
  const sites = new Map<string, TokenBucket>();
  /** Buckets of devices paced at their own rate. */
  const ownRates = new Map<string, TokenBucket>();

  /** The bucket under `key` at `rate`, made empty on first use and retuned (debt kept) when the rate changes. */
  function keyed(buckets: Map<string, TokenBucket>, key: string, rate: number): TokenBucket {
    let b = buckets.get(key);
    if (!b) buckets.set(key, (b = new TokenBucket(options(rate))));
    else if (b.rate !== rate) b.retune(rate, bucketDepth(rate, maxDepthBytes));
    return b;
  }

  function deviceBucket(deviceId: string): TokenBucket | undefined {
    const own = deviceRate?.(deviceId);
    if (own === undefined || !(own > 0)) return devices?.get(deviceId);
    return keyed(ownRates, deviceId, Math.max(1, Math.floor(deviceBytesPerSec > 0 ? Math.min(own, deviceBytesPerSec) : own)));
  }

  return {
    limiterFor(deviceId, site) {
      const buckets = [deviceBucket(deviceId), site ? keyed(sites, site.id, Math.max(1, Math.floor(site.uplinkBytesPerSec * siteShare))) : undefined, global];
      return new PacingLimiter(buckets.filter((b): b is TokenBucket => b !== undefined));
    },
    sweep() {
      devices?.sweep();
      for (const map of [sites, ownRates]) for (const [id, b] of map) if (b.isFull()) map.delete(id);
    },
  };
}
