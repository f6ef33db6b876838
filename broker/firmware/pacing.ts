/**
 * The pacing hook of block delivery: which byte buckets a device's blocks must pass. Per device
 * (`BATON_FIRMWARE_DEVICE_BYTES_PER_SEC`), per site (80% of its `uplinkBytesPerSec`, leaving the
 * rest of a constrained uplink to telemetry and control traffic) and global
 * (`BATON_EGRESS_BYTES_PER_SEC`); a take succeeds on all or none (`PacingLimiter`). A rate of 0
 * adds no bucket. A device with a rate of its own (`deviceRate`: the rollouts pass its reported
 * `linkKbps`) gets a bucket at that rate.
 */
import { BucketPool, PacingLimiter, TokenBucket, type Clock } from '../../firmware-updates/token-bucket.js';

/** The share of a site's uplink that firmware may use. */
export const SITE_UPLINK_SHARE = 0.8;

export interface Pacing {
  /** The limiter a device's blocks pass; `site` is the device's site, if it has one. */
  limiterFor(deviceId: string, site: { id: string; uplinkBytesPerSec: number } | undefined): PacingLimiter;
  /** The largest single take (every bucket's depth); larger sends are paid in slices of this. */
  readonly sliceBytes: number;
  /** Drops idle per-device buckets. */
  sweep(): void;
}

export interface PacingOptions {
  deviceBytesPerSec: number;
  globalBytesPerSec: number;
  /** Depth of every bucket: in any window W a level grants at most rate × W + burst bytes. */
  burstBytes: number;
  clock: Clock;
  /** A device's own rate (e.g. its reported link), used for its bucket instead of `deviceBytesPerSec` (the lower of the two when both are set). */
  deviceRate?(deviceId: string): number | undefined;
}

export function createPacing({ deviceBytesPerSec, globalBytesPerSec, burstBytes, clock, deviceRate }: PacingOptions): Pacing {
  const bucket = (rate: number) => new TokenBucket({ rate, depth: burstBytes, clock });
  const global = globalBytesPerSec > 0 ? bucket(globalBytesPerSec) : undefined;
  const devices = deviceBytesPerSec > 0 ? new BucketPool({ rate: deviceBytesPerSec, depth: burstBytes, clock }) : undefined;
  const sites = new Map<string, TokenBucket>();
  /** Buckets of devices paced at their own rate, replaced when that rate changes. */
  const ownRates = new Map<string, TokenBucket>();

  function deviceBucket(deviceId: string): TokenBucket | undefined {
    const own = deviceRate?.(deviceId);
    if (own === undefined || !(own > 0)) return devices?.get(deviceId);
    const rate = Math.max(1, Math.floor(deviceBytesPerSec > 0 ? Math.min(own, deviceBytesPerSec) : own));
    let b = ownRates.get(deviceId);
    if (!b || b.rate !== rate) ownRates.set(deviceId, (b = bucket(rate)));
    return b;
  }

  /** A site's bucket, replaced when its uplink changes (a PATCH of the site). */
  function siteBucket(site: { id: string; uplinkBytesPerSec: number }): TokenBucket {
    const rate = Math.floor(site.uplinkBytesPerSec * SITE_UPLINK_SHARE);
    let b = sites.get(site.id);
    if (!b || b.rate !== rate) {
      b = bucket(Math.max(rate, 1));
      sites.set(site.id, b);
    }
    return b;
  }

  return {
    sliceBytes: burstBytes,
    limiterFor(deviceId, site) {
      const buckets = [deviceBucket(deviceId), site ? siteBucket(site) : undefined, global];
      return new PacingLimiter(buckets.filter((b): b is TokenBucket => b !== undefined));
    },
    sweep() {
      devices?.sweep();
      for (const [id, b] of sites) if (b.isFull()) sites.delete(id);
      for (const [id, b] of ownRates) if (b.isFull()) ownRates.delete(id);
    },
  };
}
