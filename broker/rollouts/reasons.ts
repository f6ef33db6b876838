/**
 * "Why has this device not updated yet?" for the admin API: the pure scheduler's `explain`, read
 * against what the execution's own record says, with times as ISO 8601.
 *
 * - SUCCEEDED: no reason (it has updated).
 * - CANCELED or REMOVED by the rollout's abort: `aborted`; by the schedule's end: `outside-window`
 *   (the window never opens again); by an operator: none, the status says it.
 * - FAILED, REJECTED, TIMED_OUT: none, the status and its `statusDetails` say it.
 * - QUEUED, admitted and not started: `notified`, or why the device does not start (offline, deferred).
 * - QUEUED, not admitted: `waiting-for-wave`, `outside-window`, `offline-since`, `deferred-by-device`,
 *   `waiting-for-bandwidth` or `aborted`.
 * - IN_PROGRESS: none while it runs; `offline-since`, `deferred-by-device` or `outside-window` while stuck.
 */
import { isTerminal, type ExecutionStatus } from '../../device-sdk/protocol/jobs.js';
import { explain, type NotUpdatedReason } from '../../rollouts/explain.js';
import type { RolloutScheduler } from '../../rollouts/scheduler.js';

export const REASONS = [
  'not-targeted', 'incompatible', 'waiting-for-wave', 'outside-window', 'waiting-for-bandwidth', 'offline-since', 'deferred-by-device', 'aborted', 'notified',
] as const;
export type ReasonName = (typeof REASONS)[number];

export interface ExecutionReason {
  reason: ReasonName;
  /** The reason's particulars: `wave`/`currentWave`, `opensAt`, `since`, `until`, `at` (ISO 8601; `opensAt` null when no window ever opens). */
  details: Record<string, unknown> | null;
}

const TIME_FIELDS = new Set(['at', 'since', 'until', 'opensAt']);
const iso = (ms: number) => new Date(ms).toISOString();

export function toExecutionReason(r: NotUpdatedReason): ExecutionReason {
  const { reason, ...rest } = r;
  const details = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, TIME_FIELDS.has(k) && typeof v === 'number' ? iso(v) : v]));
  return { reason, details: Object.keys(details).length > 0 ? details : null };
}

/** The reason shown for one execution of a job the scheduler drives; null when it has updated or its status says why not. */
export function reasonFor(s: RolloutScheduler, e: { deviceId: string; status: ExecutionStatus }, now: number): ExecutionReason | null {
  if (e.status === 'SUCCEEDED') return null;
  if (e.status === 'CANCELED' || e.status === 'REMOVED') {
    const stop = s.view.stop;
    if (s.phase === 'aborted' && stop) return { reason: 'aborted', details: { at: iso(stop.at), cause: stop.cause.kind } };
    if (s.phase === 'ended' && stop && e.status === 'CANCELED') return { reason: 'outside-window', details: { opensAt: null, scheduleEndedAt: iso(stop.at) } };
    return null;
  }
  if (isTerminal(e.status)) return null;
  const r = explain(s, e.deviceId, now);
  return r && toExecutionReason(r);
}
