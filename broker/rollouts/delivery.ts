/**
 * The rollouts' side of firmware delivery: the block server's hooks (broker/firmware/hooks.ts,
 * wired by broker/jobs/firmware.ts). Delivered bytes feed the schedulers, and those no rollout
 * counts (a continuous job's, a direct download's) the shared budgets; a closed maintenance
 * window holds a device's bytes back; each device is paced to the link it reports.
 */
import { isTerminal } from '../../device-sdk/protocol/jobs.js';
import type { BudgetLedger } from '../../rollouts/ledger.js';
import { kbpsToBytesPerSec } from '../../rollouts/rates.js';
import type { RolloutRepo } from '../store/sqlite/rollouts.js';
import type { RolloutEvents } from './events.js';
import type { LiveRollouts } from './live.js';

/** How long a device's reported link and site are trusted before they are read again (devices report their link in health). */
const FACTS_CACHE_MS = 30_000;
/** Past this many cached devices the cache starts over, so devices that come and go cannot grow it. */
const FACTS_CACHE_MAX = 100_000;

export class RolloutDelivery {
  /** Reported link and site of devices outside any live rollout, cached for the block server. */
  private readonly facts = new Map<string, { kbps: number | undefined; site: string; at: number }>();

  constructor(private readonly d: { live: LiveRollouts; events: RolloutEvents; repo: RolloutRepo; clock: () => number; ledger: BudgetLedger }) {}

  /** Firmware bytes handed to a device's socket: fed to the scheduler as the device's cumulative count. */
  delivered(deviceId: string, firmwareId: string, bytes: number): void {
    const now = this.d.clock();
    let counted = false;
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
      counted = true;
      // Its first bytes (it no longer holds its whole budget share) or its last: admit the next.
      const size = live.scheduler.config.firmwareBytes;
      if ((before === 0 && exec.bytes > 0) || (before < size && exec.bytes >= size)) this.d.events.kick(live);
    }
    // No rollout drives this download: its bytes still come off its site's budget for the rollouts.
    if (!counted) this.d.ledger.delivered(this.factsOf(deviceId, now).site, bytes, now, false);
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
    const { kbps } = this.factsOf(deviceId, this.d.clock());
    return kbps === undefined ? undefined : kbpsToBytesPerSec(kbps);
  }

  /** A device's reported link and its site ('' for none), read at most every 30 s. */
  private factsOf(deviceId: string, now: number): { kbps: number | undefined; site: string } {
    let cached = this.facts.get(deviceId);
    if (!cached || now - cached.at > FACTS_CACHE_MS || now < cached.at) {
      const row = this.d.repo.devices([deviceId])[0];
      const kbps = row?.linkKbps;
      cached = { kbps: kbps !== undefined && kbps !== null && kbps > 0 ? kbps : undefined, site: row?.site ?? '', at: now };
      this.facts.set(deviceId, cached);
      if (this.facts.size > FACTS_CACHE_MAX) this.facts.clear();
    }
    return cached;
  }
}
