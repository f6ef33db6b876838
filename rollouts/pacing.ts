/**
 * The byte buckets a rollout's blocks pass through (issue 7): one per device (its reported link),
 * one per site (uplink × share) and one for the whole service, combined in a `PacingLimiter` so a
 * block is taken from all three or from none. The block server and the simulator build the same
 * buckets from here, on their own clocks.
 */
import { PacingLimiter, TokenBucket, type Clock } from '../firmware-updates/token-bucket.js';
import { siteBudget } from './admission.js';
import { kbpsToBytesPerSec } from './rates.js';
import type { SiteSettings } from './settings.js';

export interface PacingOptions {
  sites: readonly SiteSettings[];
  /** Default 0.8, as the scheduler's. */
  siteShare?: number;
  egressBytesPerSec?: number;
  /** Bucket depth, bytes: at least the block size (a larger take never succeeds), the burst bound. */
  depthBytes: number;
  clock: Clock;
}

export interface PacedDevice {
  id: string;
  site: string | null;
  linkKbps?: number | undefined;
}

export class RolloutPacing {
  private readonly sites = new Map<string, TokenBucket>();
  private readonly limiters = new Map<string, PacingLimiter>();
  readonly egress: TokenBucket | undefined;

  constructor(private readonly options: PacingOptions) {
    const { depthBytes: depth, clock } = options;
    for (const s of options.sites) {
      this.sites.set(s.id, new TokenBucket({ rate: siteBudget(s.uplinkBytesPerSec, options.siteShare ?? 0.8), depth, clock }));
    }
    const egress = options.egressBytesPerSec;
    this.egress = egress !== undefined && Number.isFinite(egress) ? new TokenBucket({ rate: egress, depth, clock }) : undefined;
  }

  /** The site's bucket, if the site is known. */
  site(id: string | null): TokenBucket | undefined {
    return id === null ? undefined : this.sites.get(id);
  }

  /** The limiter for one device's blocks; made once per device and kept until `forget`. */
  limiterFor(device: PacedDevice): PacingLimiter {
    let limiter = this.limiters.get(device.id);
    if (!limiter) {
      const { depthBytes: depth, clock } = this.options;
      const own = device.linkKbps ? new TokenBucket({ rate: kbpsToBytesPerSec(device.linkKbps), depth, clock }) : undefined;
      const buckets = [own, this.site(device.site), this.egress].filter((b): b is TokenBucket => b !== undefined);
      limiter = new PacingLimiter(buckets);
      this.limiters.set(device.id, limiter);
    }
    return limiter;
  }

  /** Drops a finished device's limiter (and its own bucket with it). */
  forget(deviceId: string): void {
    this.limiters.delete(deviceId);
  }
}
