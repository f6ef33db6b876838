/**
 * The scheduler's persistable state: plain JSON, so the jobs feature can store it beside the job
 * and a restarted broker resumes with the same waves, admitted set, partial downloads and budgets.
 * Everything else the scheduler keeps (per-site queues, counters) is rebuilt from it on restore.
 */
import { z } from 'zod';
import { executionStatusSchema, type ExecutionStatus } from '../device-sdk/protocol/jobs.js';
import { BatonError } from '../device-sdk/protocol/errors.js';
import { noOutcomes, OUTCOMES, type HealthCounts, type HealthRegression, type Outcome, type OutcomeCounts } from './gates.js';
import type { AbortCriterion } from './settings.js';

/** `scheduled` before `startAt`; `running` while admitting; the rest are final. */
export type Phase = 'scheduled' | 'running' | 'completed' | 'aborted' | 'ended';

/** Why admission stopped for good. */
export type StopCause =
  | { kind: 'abort-criterion'; criterion: AbortCriterion }
  | { kind: 'wave-failed'; wave: number; successPct: number }
  | { kind: 'health'; wave: number; regressions: HealthRegression[] }
  | { kind: 'schedule-end' };

/** One admitted execution (devices the scheduler has not admitted have no entry). */
export interface ExecState {
  status: ExecutionStatus;
  admittedAt: number;
  /** Firmware bytes delivered so far (the block server's count); a restart resumes from here. */
  bytes: number;
  /** Last time bytes moved, or the admission: a download silent for `stallS` stops holding budget. */
  activeAt: number;
  /** Measured throughput, bytes/s (time-weighted moving average). */
  rate?: number | undefined;
  /** Estimated device capacity, bytes/s: what it could take if the site were idle. */
  capacity?: number | undefined;
  /** The latest outcome, so a retry that ends differently moves the device between counts. */
  outcome?: Outcome | undefined;
}

export interface RolloutState {
  version: 1;
  phase: Phase;
  waves: string[][];
  /** Index of the newest released wave; -1 before the start. */
  released: number;
  /** Set when the newest wave passed its success gate: the next one waits until `until`. */
  soak: { wave: number; until: number; since: number } | null;
  executions: Record<string, ExecState>;
  /** Device id → when it went offline. */
  offline: Record<string, number>;
  /** Device id → until when it asked not to be updated. */
  deferred: Record<string, number>;
  outcomes: OutcomeCounts;
  /** Admission times within the last minute, for `maxPerMinute` (a sliding window, not a bucket). */
  notified: number[];
  /** Health events per device since the soak began. */
  health: Record<string, HealthCounts>;
  stop: { at: number; cause: StopCause } | null;
}

export function initialState(waves: string[][], offline: Record<string, number>): RolloutState {
  return { version: 1, phase: 'scheduled', waves, released: -1, soak: null, executions: {}, offline, deferred: {}, outcomes: noOutcomes(), notified: [], health: {}, stop: null };
}

// A light structural check on restore: the state comes from our own store, but a state written by
// another version (or hand-edited) must fail loudly rather than resume a rollout wrongly.
const num = z.number();
const stateShape = z.object({
  version: z.literal(1),
  phase: z.enum(['scheduled', 'running', 'completed', 'aborted', 'ended']),
  waves: z.array(z.array(z.string())),
  released: z.int().min(-1),
  soak: z.object({ wave: z.int(), until: num, since: num }).nullable(),
  executions: z.record(z.string(), z.object({ status: executionStatusSchema, admittedAt: num, bytes: num, activeAt: num }).loose()),
  offline: z.record(z.string(), num),
  deferred: z.record(z.string(), num),
  outcomes: z.object(Object.fromEntries(OUTCOMES.map((o) => [o, num])) as Record<Outcome, typeof num>),
  notified: z.array(num),
  health: z.record(z.string(), z.object({ reconnects: num, reboots: num, stale: num })),
  stop: z.object({ at: num, cause: z.object({ kind: z.string() }).loose() }).nullable(),
});

export function parseState(json: unknown): RolloutState {
  const parsed = stateShape.safeParse(json);
  if (!parsed.success) throw new BatonError('InvalidRequest', 'stored rollout state does not match its schema', { issues: parsed.error.issues.length });
  return parsed.data as RolloutState;
}
