/**
 * How a rollout moves from wave to wave: a settled wave passes or fails its success gate; a passed
 * wave soaks (health gating compares its devices with those still on the old firmware); then the
 * next wave is released. Called after every status change and every tick, so a gate is decided at
 * the event that settles it and nothing of the next wave is admitted before.
 */
import { isTerminal } from '../device-sdk/protocol/jobs.js';
import type { ResolvedConfig } from './config.js';
import { crossedCriterion, healthRegressions, summarizeHealth, waveVerdict, type HealthCounts } from './gates.js';
import type { RolloutQueues } from './queues.js';
import type { Phase, RolloutState, StopCause } from './state.js';

export type RolloutEvent =
  | { type: 'started'; at: number }
  | { type: 'wave-released'; wave: number; devices: number; at: number }
  | { type: 'wave-passed'; wave: number; successPct: number; soakUntil: number; at: number }
  | { type: 'stopped'; phase: Extract<Phase, 'aborted' | 'ended'>; cause: StopCause; at: number }
  | { type: 'completed'; at: number };

export interface Progress {
  config: ResolvedConfig;
  state: RolloutState;
  queues: RolloutQueues;
  isAway(id: string, now: number): boolean;
  /** Executions to cancel, collected until the caller's decision takes them. */
  cancels: string[];
}

export function startRollout(p: Progress, now: number, events: RolloutEvent[]): void {
  p.state.phase = 'running';
  events.push({ type: 'started', at: now });
  if (p.state.waves.length > 0) releaseWave(p, 0, now, events);
}

/**
 * Final: from here on nothing is admitted. Not-started executions (notified or still waiting) are
 * canceled; in-progress ones finish, or are canceled when the job's abort says so. A schedule end
 * with `stop` only stops admitting: what was admitted may still run.
 */
export function stopRollout(p: Progress, cause: StopCause, now: number, events: RolloutEvent[]): void {
  const phase = cause.kind === 'schedule-end' ? 'ended' : 'aborted';
  p.state.phase = phase;
  p.state.stop = { at: now, cause };
  p.state.soak = null;
  events.push({ type: 'stopped', phase, cause, at: now });
  if (phase === 'ended' && p.config.endBehavior === 'stop') return;
  const inProgressToo = phase === 'aborted' && p.config.abort?.inProgress === 'cancel';
  for (const id of p.config.targets.keys()) {
    const status = p.state.executions[id]?.status ?? 'QUEUED';
    if (status === 'QUEUED' || (status === 'IN_PROGRESS' && inProgressToo)) p.cancels.push(id);
  }
}

/** Evaluated at every status change, so the crossing event itself stops admission. */
export function checkAbort(p: Progress, now: number, events: RolloutEvent[]): void {
  if (p.state.phase !== 'running' || !p.config.abort) return;
  const criterion = crossedCriterion(p.state.outcomes, p.config.abort.criteria);
  if (criterion) stopRollout(p, { kind: 'abort-criterion', criterion }, now, events);
}

export function releaseWave(p: Progress, wave: number, now: number, events: RolloutEvent[]): void {
  p.state.released = wave;
  p.queues.release(wave);
  events.push({ type: 'wave-released', wave, devices: p.state.waves[wave]!.length, at: now });
}

/**
 * Settled: every device of the wave is finished, or has not started and is offline or deferred.
 * Waiting for a device that is away would hold the whole fleet for one unplugged unit; it stays
 * admissible and is updated when it returns.
 */
function settled(p: Progress, wave: number, now: number): boolean {
  const ids = p.state.waves[wave]!;
  const mayBeAway = p.queues.offlineCount + p.queues.deferredCount;
  if (p.queues.waveTerminal[wave]! + mayBeAway < ids.length) return false; // cheap necessary condition
  return ids.every((id) => {
    const exec = p.state.executions[id];
    if (exec && isTerminal(exec.status)) return true;
    return (!exec || exec.status === 'QUEUED') && p.isAway(id, now);
  });
}

function gateWave(p: Progress, wave: number, now: number, events: RolloutEvent[]): boolean {
  const statuses = p.state.waves[wave]!.flatMap((id) => {
    const exec = p.state.executions[id];
    return exec && isTerminal(exec.status) ? [exec.status] : [];
  });
  const verdict = waveVerdict(statuses, p.config.rollout.successThresholdPct);
  if (verdict.state !== 'passed') {
    stopRollout(p, { kind: 'wave-failed', wave, successPct: verdict.state === 'failed' ? verdict.successPct : 0 }, now, events);
    return false;
  }
  const soakUntil = now + p.config.rollout.soakS * 1000;
  p.state.soak = { wave, since: now, until: soakUntil };
  p.state.health = {};
  events.push({ type: 'wave-passed', wave, successPct: verdict.successPct, soakUntil, at: now });
  return true;
}

/** Health of the soaked wave's updated devices against the devices not yet released (still on the old firmware). */
function healthPasses(p: Progress, wave: number, now: number, events: RolloutEvent[]): boolean {
  const tolerance = p.config.health;
  if (!tolerance || p.config.rollout.soakS === 0) return true;
  const none: HealthCounts = { reconnects: 0, reboots: 0, stale: 0 };
  const countsOf = (ids: readonly string[]) => ids.map((id) => p.state.health[id] ?? none);
  const updated = p.state.waves[wave]!.filter((id) => p.state.executions[id]?.status === 'SUCCEEDED');
  const control = p.state.waves.slice(wave + 1).flat();
  const regressions = healthRegressions(summarizeHealth(countsOf(updated)), summarizeHealth(countsOf(control)), tolerance);
  if (regressions.length === 0) return true;
  stopRollout(p, { kind: 'health', wave, regressions }, now, events);
  return false;
}

/** Runs every gate that is due, in order; returns the events it caused. */
export function advance(p: Progress, now: number): RolloutEvent[] {
  const events: RolloutEvent[] = [];
  const last = p.state.waves.length - 1;
  while (p.state.phase === 'running') {
    const wave = p.state.released;
    if (p.state.soak) {
      if (now < p.state.soak.until || !healthPasses(p, wave, now, events)) break;
      p.state.soak = null;
      p.state.health = {};
      releaseWave(p, wave + 1, now, events);
      continue;
    }
    if (wave < last) {
      if (!settled(p, wave, now) || !gateWave(p, wave, now, events)) break;
      continue;
    }
    if (p.queues.terminal >= p.config.targets.size) {
      p.state.phase = 'completed';
      events.push({ type: 'completed', at: now });
    }
    break;
  }
  return events;
}
