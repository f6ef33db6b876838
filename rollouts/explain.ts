/**
 * "Why has this device not updated yet?" (issue 7): one reason per device, from the scheduler's
 * state at `now`. The reasons are checked in the order an operator would fix them: a device of a
 * later wave that is also offline is `waiting-for-wave`, because plugging it in would not help yet.
 */
import { isTerminal } from '../device-sdk/protocol/jobs.js';
import type { RolloutScheduler } from './scheduler.js';

export type NotUpdatedReason =
  | { reason: 'not-targeted' }
  | { reason: 'incompatible' }
  | { reason: 'aborted'; at: number }
  | { reason: 'waiting-for-wave'; wave: number; currentWave: number }
  | { reason: 'outside-window'; opensAt: number | null }
  | { reason: 'offline-since'; since: number }
  | { reason: 'deferred-by-device'; until: number }
  | { reason: 'waiting-for-bandwidth' }
  | { reason: 'notified'; at: number };

export interface ExplainContext {
  /** Devices the job matched but cannot run on (a firmware job's other device classes). */
  incompatible?: ReadonlySet<string>;
}

/** Away (offline or deferred) at `now`, as a reason; undefined when present. */
function away(s: RolloutScheduler, id: string, now: number): NotUpdatedReason | undefined {
  const since = s.view.offline[id];
  if (since !== undefined) return { reason: 'offline-since', since };
  const until = s.view.deferred[id];
  if (until !== undefined && until > now) return { reason: 'deferred-by-device', until };
  return undefined;
}

/** When the device's window can next hold a whole download; null when no window ever will. */
function windowBlock(s: RolloutScheduler, id: string, now: number): NotUpdatedReason | undefined {
  const windows = s.windowsFor(id);
  if (windows.canFinishInWindow(s.config.firmwareBytes, s.budgetedRate(id), now)) return undefined;
  const from = windows.windowEnd(now) ?? now; // open but too short: the one after this closes
  return { reason: 'outside-window', opensAt: windows.nextWindowStart(from) ?? null };
}

/** Before the start and after the end of the job's schedule, the job's own window is closed. */
function scheduleBlock(s: RolloutScheduler): NotUpdatedReason | undefined {
  if (s.phase === 'scheduled') return { reason: 'outside-window', opensAt: s.config.startAt ?? null };
  if (s.phase === 'ended') return { reason: 'outside-window', opensAt: null };
  return undefined;
}

/** An admitted execution: notified until its device starts; a started one is explained only while stuck. */
function admitted(s: RolloutScheduler, id: string, now: number): NotUpdatedReason | null {
  const exec = s.view.executions[id]!;
  if (isTerminal(exec.status)) return null; // its status says it all
  if (exec.status === 'QUEUED' && s.phase === 'aborted') return { reason: 'aborted', at: s.view.stop!.at };
  const blocked = away(s, id, now);
  if (blocked) return blocked;
  if (exec.status === 'QUEUED') return { reason: 'notified', at: exec.admittedAt };
  return s.windowsFor(id).isInWindow(now) ? null : { reason: 'outside-window', opensAt: s.windowsFor(id).nextWindowStart(now) ?? null };
}

/** The reason a device has not updated, or null when it has or is updating unhindered. */
export function explain(s: RolloutScheduler, id: string, now: number, ctx: ExplainContext = {}): NotUpdatedReason | null {
  if (ctx.incompatible?.has(id)) return { reason: 'incompatible' };
  if (!s.config.targets.has(id)) return { reason: 'not-targeted' };
  if (s.view.executions[id]) return admitted(s, id, now);
  if (s.phase === 'aborted') return { reason: 'aborted', at: s.view.stop!.at };
  const scheduled = scheduleBlock(s);
  if (scheduled) return scheduled;
  const wave = s.waveOf(id) ?? 0;
  if (wave > s.view.released) return { reason: 'waiting-for-wave', wave, currentWave: Math.max(0, s.view.released) };
  return away(s, id, now) ?? windowBlock(s, id, now) ?? { reason: 'waiting-for-bandwidth' };
}

/** Every device asked about, e.g. a page of `GET /api/v1/jobs/{id}/executions`. */
export function explainAll(s: RolloutScheduler, ids: Iterable<string>, now: number, ctx: ExplainContext = {}): Map<string, NotUpdatedReason | null> {
  const reasons = new Map<string, NotUpdatedReason | null>();
  for (const id of ids) reasons.set(id, explain(s, id, now, ctx));
  return reasons;
}
