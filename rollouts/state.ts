/**
 * The scheduler's persistable state: plain JSON, so the jobs feature can store it beside the job
 * and a restarted broker resumes with the same waves, admitted set, partial downloads and budgets.
 * Everything else the scheduler keeps (per-site queues, counters) is rebuilt from it on restore.
 */
import { z } from 'zod';
import { executionStatusSchema } from '../device-sdk/protocol/jobs.js';
import { BatonError } from '../device-sdk/protocol/errors.js';
import { noOutcomes, OUTCOMES } from './gates.js';
import { abortCriterionSchema, healthMarginsSchema } from './settings.js';

const num = z.number();
const outcomeSchema = z.enum(OUTCOMES);

/** `scheduled` before `startAt`; `running` while admitting; the rest are final. */
const phaseSchema = z.enum(['scheduled', 'running', 'completed', 'aborted', 'ended']);
export type Phase = z.infer<typeof phaseSchema>;

const regressionSchema = z.object({ metric: healthMarginsSchema.keyof(), updated: num, baseline: num });

/** Why admission stopped for good. */
const stopCauseSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('abort-criterion'), criterion: abortCriterionSchema }),
  z.object({ kind: z.literal('wave-failed'), wave: z.int(), successPct: num }),
  z.object({ kind: z.literal('health'), wave: z.int(), regressions: z.array(regressionSchema) }),
  z.object({ kind: z.literal('schedule-end') }),
]);
export type StopCause = z.infer<typeof stopCauseSchema>;

/** One admitted execution (devices the scheduler has not admitted have no entry). */
const execStateSchema = z.object({
  status: executionStatusSchema,
  admittedAt: num,
  /** Firmware bytes delivered so far (the block server's count); a restart resumes from here. */
  bytes: num,
  /** Last time bytes moved, or the admission: a download silent for `stallS` stops holding budget. */
  activeAt: num,
  /** Measured throughput, bytes/s (time-weighted moving average). */
  rate: num.optional(),
  /** Estimated device capacity, bytes/s: what it could take if the site were idle. */
  capacity: num.optional(),
  /** The latest outcome, so a retry that ends differently moves the device between counts. */
  outcome: outcomeSchema.optional(),
});
export type ExecState = z.infer<typeof execStateSchema>;

/**
 * The whole state, checked field by field on restore: it comes from our own store, but a state
 * written by another version, hand-edited or damaged must fail loudly (the broker then plans the
 * rollout again from its executions) rather than resume a rollout wrongly.
 */
const rolloutStateSchema = z.object({
  version: z.literal(1),
  phase: phaseSchema,
  waves: z.array(z.array(z.string())),
  /** Index of the newest released wave; -1 before the start. */
  released: z.int().min(-1),
  /** Set when the newest wave passed its success gate: the next one waits until `until`. */
  soak: z.object({ wave: z.int(), until: num, since: num }).nullable(),
  executions: z.record(z.string(), execStateSchema),
  /** Device id → when it went offline. */
  offline: z.record(z.string(), num),
  /** Device id → until when it asked not to be updated. */
  deferred: z.record(z.string(), num),
  outcomes: z.object({ SUCCEEDED: num, FAILED: num, REJECTED: num, TIMED_OUT: num }),
  /** Admission times within the last minute, for `maxPerMinute` (a sliding window, not a bucket). */
  notified: z.array(num),
  /** Health events per device since the soak began. */
  health: z.record(z.string(), z.object({ reconnects: num, reboots: num, stale: num })),
  stop: z.object({ at: num, cause: stopCauseSchema }).nullable(),
});
export type RolloutState = z.infer<typeof rolloutStateSchema>;

export function initialState(waves: string[][], offline: Record<string, number>): RolloutState {
  return { version: 1, phase: 'scheduled', waves, released: -1, soak: null, executions: {}, offline, deferred: {}, outcomes: noOutcomes(), notified: [], health: {}, stop: null };
}

/** A state from outside the code (the store): `InvalidRequest` naming each field that does not match. */
export function parseState(json: unknown): RolloutState {
  const parsed = rolloutStateSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const fields = Object.fromEntries(parsed.error.issues.map((i) => [i.path.join('.') || '(state)', i.message]));
  throw new BatonError('InvalidRequest', 'the stored rollout state does not match its schema', { fields });
}
