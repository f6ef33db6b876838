/**
 * What the running rollouts hear about devices themselves: connects and disconnects (presence),
 * devices going stale, reboots their health reports show, and the firmware they say they run
 * when they reconnect. Reconnects, reboots and stale devices are counted by the scheduler for the
 * health gate while a wave soaks; everything else it ignores there.
 */
import type { RolloutScheduler } from '../../rollouts/scheduler.js';
import type { Boots } from '../health/boots.js';
import { fellBackToOldVersion } from '../jobs/reconcile.js';
import type { PresenceTracker } from '../presence/tracker.js';
import type { RolloutEvents } from './events.js';
import type { LiveRollouts } from './live.js';

/**
 * Brings a scheduler's view of who is offline in line with presence; true when it changed.
 * `onlyConnects`: learn who is back, but count no one as gone yet (the grace after a restart).
 */
export function syncPresence(s: RolloutScheduler, presence: PresenceTracker, now: number, onlyConnects: boolean): boolean {
  let changed = false;
  for (const id of s.config.targets.keys()) {
    const online = presence.session(id) !== undefined;
    const offline = s.view.offline[id] !== undefined;
    if (online && offline) s.deviceConnected(id, now);
    else if (!online && !offline && !onlyConnects) s.deviceDisconnected(id, now);
    else continue;
    changed = true;
  }
  return changed;
}

export class RolloutPresence {
  constructor(private readonly d: { live: LiveRollouts; events: RolloutEvents; clock: () => number }) {}

  /** Runs admission for the rollouts the device can join now (its wave is released, it has no execution yet). */
  async deviceConnected(deviceId: string): Promise<void> {
    const now = this.d.clock();
    const joinable: string[] = [];
    for (const live of this.d.live.values()) {
      const s = live.scheduler;
      if (!s.config.targets.has(deviceId)) continue;
      s.deviceConnected(deviceId, now);
      live.dirty = true;
      const wave = s.waveOf(deviceId);
      if (s.phase === 'running' && !s.view.executions[deviceId] && wave !== undefined && wave <= s.view.released) joinable.push(live.job.id);
    }
    for (const jobId of joinable) await this.d.events.admit(jobId);
  }

  deviceDisconnected(deviceId: string): void {
    const now = this.d.clock();
    for (const live of this.d.live.values()) {
      if (!live.scheduler.config.targets.has(deviceId)) continue;
      live.scheduler.deviceDisconnected(deviceId, now);
      live.dirty = true;
      this.d.events.kick(live);
    }
  }

  /** A device went stale (silent for 3 × its interval). */
  deviceStale(deviceId: string): void {
    this.count(deviceId, 'stale', this.d.clock(), 1);
  }

  /** A device's health report shows it booted since its previous report (broker/health/boots.ts), `count` times. */
  deviceRebooted(deviceId: string, boots: Boots): void {
    this.count(deviceId, 'reboot', boots.at, boots.count);
  }

  /**
   * A device said which firmware it runs (its reconcile after connecting). An updated device that
   * runs another version than its rollout's rebooted into the old one: counted as a reboot, once,
   * on top of the boots its health reports show (it is a failed update, not only a restart).
   */
  firmwareRunning(deviceId: string, firmwareVersion: string): void {
    const at = this.d.clock();
    for (const live of this.d.live.values()) {
      const status = live.scheduler.view.executions[deviceId]?.status;
      if (status === undefined || live.fellBack.has(deviceId) || !fellBackToOldVersion(live.job, status, firmwareVersion)) continue;
      live.fellBack.add(deviceId);
      live.scheduler.recordHealth({ deviceId, kind: 'reboot', at });
      live.dirty = true;
    }
  }

  private count(deviceId: string, kind: 'reboot' | 'stale', at: number, times: number): void {
    for (const live of this.d.live.values()) {
      if (!live.scheduler.config.targets.has(deviceId)) continue;
      for (let i = 0; i < times; i++) live.scheduler.recordHealth({ deviceId, kind, at });
      live.dirty = true;
    }
  }
}
