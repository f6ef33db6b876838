/**
 * Where the running rollouts are kept (`broker/store/sqlite/rollouts.ts`, 006_rollouts.sql): the
 * config a rollout was built from, fixed at its start, and the scheduler's state, saved after
 * each tick that changed something, at every stop, and on close. Writes go through the group
 * commit; they are tracked so a closing broker waits for the last of them.
 */
import type { Logger } from 'pino';
import { parseSchedulerConfig, type SchedulerConfig } from '../../rollouts/config.js';
import type { RolloutRepo } from '../store/sqlite/rollouts.js';
import type { LiveRollout } from './live.js';

/** What the store holds of a rollout: its config, checked, and the state the scheduler restores from (checked there). */
export interface StoredScheduler {
  config: SchedulerConfig;
  state: unknown;
}

/** Text that is not JSON decodes to `undefined`, which no schema accepts: the parse that follows names the damage. */
function decode(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export class RolloutPersistence {
  private readonly writes = new Set<Promise<void>>();

  constructor(private readonly d: { repo: RolloutRepo; clock: () => number; log: Logger }) {}

  /**
   * The stored rollout, its config parsed with the scheduler's schema. A config that does not
   * decode or match (another version wrote it, or the file was damaged) is logged and reads as
   * none: the rollout is planned again from the job and its executions, and its first save
   * replaces the row. A damaged state with a good config is `RolloutScheduler.restore`'s to refuse.
   */
  read(jobId: string): StoredScheduler | undefined {
    const stored = this.d.repo.get(jobId);
    if (!stored) return undefined;
    try {
      return { config: parseSchedulerConfig(decode(stored.configJson)), state: decode(stored.stateJson) };
    } catch (err) {
      this.d.log.error({ err, jobId }, 'stored rollout config not readable; planning the rollout again from the job');
      return undefined;
    }
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
