/**
 * The rollouts' side of firmware delivery: the block server's hooks (broker/firmware/hooks.ts,
 * wired by broker/jobs/firmware.ts). Delivered bytes feed the schedulers; a closed maintenance
 * window holds a device's bytes back; each device is paced to the link it reports.
 */
import { isTerminal } from '../../device-sdk/protocol/jobs.js';
import { kbpsToBytesPerSec } from '../../rollouts/rates.js';
import type { RolloutRepo } from '../store/sqlite/rollouts.js';
import type { RolloutEvents } from './events.js';
import type { LiveRollouts } from './live.js';

/** How long a device's reported link is trusted before it is read again (devices report it in health). */
const LINK_CACHE_MS = 30_000;
/** Past this many cached links the cache starts over, so devices that come and go cannot grow it. */
const LINK_CACHE_MAX = 100_000;

export class RolloutDelivery {
  /** Reported links of devices outside any live rollout, cached for the block server. */
  private readonly links = new Map<string, { kbps: number | undefined; at: number }>();

  constructor(private readonly d: { live: LiveRollouts; events: RolloutEvents; repo: RolloutRepo; clock: () => number }) {}

  /** Firmware bytes handed to a device's socket: fed to the scheduler as the device's cumulative count. */
  delivered(deviceId: string, firmwareId: string, bytes: number): void {
    const now = this.d.clock();
    for (const live of this.d.live.values()) {
      if (live.job.firmware?.id !== firmwareId) continue;
      const exec = live.scheduler.view.executions[deviceId];
      if (!exec || isTerminal(exec.status)) continue;
      // Counted from this attempt's first byte here; the device's reports fill in (the scheduler keeps the larger).
      const total = (live.bytes.get(deviceId) ?? 0) + bytes;
      live.bytes.set(deviceId, total);
      const before = exec.bytes;
      live.scheduler.recordProgress(deviceId, total, now);
      live.dirty = true;
      // Its first bytes (it no longer holds its whole budget share) or its last: admit the next.
      const size = live.scheduler.config.firmwareBytes;
      if ((before === 0 && exec.bytes > 0) || (before < size && exec.bytes >= size)) this.d.events.kick(live);
    }
  }

  /**
   * Whether bytes of this firmware may flow to the device now: false while a rollout of it that
   * has admitted the device has the device's maintenance window closed (or its schedule ended).
   */
  mayStream(deviceId: string, firmwareId: string, now = this.d.clock()): boolean {
    for (const live of this.d.live.values()) {
      if (live.job.firmware?.id !== firmwareId) continue;
      const s = live.scheduler;
      const exec = s.view.executions[deviceId];
      if (!exec || isTerminal(exec.status)) continue;
      if (!s.windowsFor(deviceId).isInWindow(now)) return false;
    }
    return true;
  }

  /**
   * The rate to pace a device's firmware blocks to, from the `linkKbps` it reports: the one its
   * rollout planned with, else its latest health report (looked up at most every 30 s).
   */
  deviceBytesPerSec(deviceId: string): number | undefined {
    for (const live of this.d.live.values()) {
      const kbps = live.scheduler.config.targets.get(deviceId)?.linkKbps;
      if (kbps !== undefined && kbps > 0) return kbpsToBytesPerSec(kbps);
    }
    const now = this.d.clock();
    let cached = this.links.get(deviceId);
    if (!cached || now - cached.at > LINK_CACHE_MS || now < cached.at) {
      cached = { kbps: this.d.repo.linkKbps(deviceId), at: now };
      this.links.set(deviceId, cached);
      if (this.links.size > LINK_CACHE_MAX) this.links.clear();
    }
    return cached.kbps === undefined ? undefined : kbpsToBytesPerSec(cached.kbps);
  }
}
