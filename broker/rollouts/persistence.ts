/**
 * Where the running rollouts are kept (`broker/store/sqlite/rollouts.ts`, 006_rollouts.sql): the
 * config a rollout was built from, fixed at its start, and the scheduler's state, saved after
 * each tick that changed something, at every stop, and on close. Writes go through the group
 * commit; they are tracked so a closing broker waits for the last of them.
 */
import type { Logger } from 'pino';
import type { SchedulerConfig } from '../../rollouts/config.js';
import type { RolloutRepo } from '../store/sqlite/rollouts.js';
import type { LiveRollout } from './live.js';

/** What the store holds of a rollout: its config, and the state the scheduler restores from (validated there). */
export interface StoredScheduler {
  config: SchedulerConfig;
  state: unknown;
}

export class RolloutPersistence {
  private readonly writes = new Set<Promise<void>>();

  constructor(private readonly d: { repo: RolloutRepo; clock: () => number; log: Logger }) {}

  read(jobId: string): StoredScheduler | undefined {
    const stored = this.d.repo.get(jobId);
    // The config is our own JSON, written by `save` from a config the scheduler accepted.
    return stored && { config: stored.config as SchedulerConfig, state: stored.state };
  }

  /** Writes the rollout if it changed since its last save. */
  save(live: LiveRollout): void {
    if (!live.dirty) return;
    live.dirty = false;
    const now = this.d.clock();
    const state = JSON.stringify(live.scheduler.view);
    const phase = live.scheduler.phase;
    const write = live.stored
      ? this.d.repo.update(live.job.id, state, phase, now)
      : this.d.repo.insert(live.job.id, JSON.stringify(live.config), state, phase, now);
    live.stored = true;
    const tracked: Promise<void> = write
      .catch((err: unknown) => this.d.log.error({ err, jobId: live.job.id }, 'rollout state not saved'))
      .finally(() => this.writes.delete(tracked));
    this.writes.add(tracked);
  }

  /** Writes it whatever changed: a stop, a finished job, the broker closing. */
  saveNow(live: LiveRollout): void {
    live.dirty = true;
    this.save(live);
  }

  /** Resolves once every write started so far is committed (or logged as failed). */
  async flush(): Promise<void> {
    await Promise.all(this.writes);
  }
}
