/**
 * The scheduler's working indexes, rebuilt from the persisted state on every start (so they are
 * never stored and can never disagree with it): per site, the released devices waiting for
 * admission and the downloads holding budget; per wave, how many executions have finished.
 */
import { isTerminal, type ExecutionStatus } from '../device-sdk/protocol/jobs.js';
import type { RolloutState } from './state.js';

export interface QueueDeps {
  siteOf(id: string): string;
  /** Sort key within a site: the prior rate. Slowest first, so the tail of a site is its fast devices. */
  prior(id: string): number;
  firmwareBytes: number;
}

export class RolloutQueues {
  readonly waveOf = new Map<string, number>();
  /** Site → released devices not yet admitted, slowest first. */
  readonly pending = new Map<string, string[]>();
  /** Site → admitted executions whose download is unfinished. */
  readonly downloading = new Map<string, Set<string>>();
  /** Admitted and not terminal: what `maxConcurrent` limits. */
  active = 0;
  /** Targets whose execution is terminal. */
  terminal = 0;
  readonly waveTerminal: number[];
  /** Entries in `state.offline` and `state.deferred`, kept by the scheduler as it changes them. */
  offlineCount: number;
  deferredCount: number;

  constructor(
    private readonly state: RolloutState,
    private readonly deps: QueueDeps,
  ) {
    state.waves.forEach((ids, w) => ids.forEach((id) => this.waveOf.set(id, w)));
    this.waveTerminal = state.waves.map(() => 0);
    this.offlineCount = Object.keys(state.offline).length;
    this.deferredCount = Object.keys(state.deferred).length;
    for (let w = 0; w <= state.released; w++) this.release(w);
    for (const [id, exec] of Object.entries(state.executions)) this.count(id, undefined, exec.status);
  }

  /** Makes a wave's devices candidates for admission. */
  release(wave: number): void {
    const touched = new Set<string>();
    for (const id of this.state.waves[wave] ?? []) {
      if (this.state.executions[id]) continue;
      const site = this.deps.siteOf(id);
      let queue = this.pending.get(site);
      if (!queue) this.pending.set(site, (queue = []));
      queue.push(id);
      touched.add(site);
    }
    for (const site of touched) this.pending.get(site)!.sort((a, b) => this.deps.prior(a) - this.deps.prior(b));
  }

  /** Keeps counters and download sets in step with an execution's status change. */
  count(id: string, from: ExecutionStatus | undefined, to: ExecutionStatus): void {
    const wasTerminal = from !== undefined && isTerminal(from);
    const nowTerminal = isTerminal(to);
    const wasActive = from !== undefined && !wasTerminal;
    if (from === undefined) this.dequeue(id);
    if (wasActive !== !nowTerminal) this.active += nowTerminal ? -1 : 1;
    if (wasTerminal !== nowTerminal) {
      const delta = nowTerminal ? 1 : -1;
      this.terminal += delta;
      const wave = this.waveOf.get(id);
      if (wave !== undefined) this.waveTerminal[wave]! += delta;
    }
    this.track(id);
  }

  /** Holds an execution in its site's download set while it is active and bytes remain. */
  track(id: string): void {
    const exec = this.state.executions[id];
    const site = this.deps.siteOf(id);
    let set = this.downloading.get(site);
    if (!set) this.downloading.set(site, (set = new Set()));
    if (exec && !isTerminal(exec.status) && exec.bytes < this.deps.firmwareBytes) set.add(id);
    else set.delete(id);
  }

  /** Released devices still waiting at a site, in admission order. */
  *waiting(site: string): Generator<string> {
    for (const id of this.pending.get(site) ?? []) if (!this.state.executions[id]) yield id;
  }

  /** Takes an admitted device out of its queue (it is near the front: admission reads from there). */
  dequeue(id: string): void {
    const queue = this.pending.get(this.deps.siteOf(id));
    const at = queue?.indexOf(id) ?? -1;
    if (at >= 0) queue!.splice(at, 1);
  }

  /** Waiting devices per site. */
  waitingCount(site: string): number {
    return this.pending.get(site)?.length ?? 0;
  }
}
