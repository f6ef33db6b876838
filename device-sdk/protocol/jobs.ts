/**
 * Wire payloads of jobs, shared by the broker and the device SDK (docs/protocol/jobs.md).
 *
 * The shapes follow AWS IoT Jobs (`…/jobs/get`, `start-next`, `{jobId}/get`, `{jobId}/update`,
 * `notify-next`, with `/accepted` and `/rejected` replies echoing `clientToken`) so a device
 * written against AWS needs little change. Where Baton differs it says so here:
 * - times are ISO 8601 strings, not epoch seconds;
 * - `jobDocument` is typed (`firmware`, `config`, `custom`) and a config job's document is a
 *   signed envelope bound to one device, one job and an expiry (AWS sends plain JSON);
 * - `progress` (bytes and percent) is a field of its own, beside `statusDetails`;
 * - `reconcile` is new: after a reboot the device says what it runs and the service settles the
 *   execution it was installing (AWS leaves that to the operator).
 */
import { z } from 'zod';
import { verifyCompactJws } from '../firmware/jws.js';
import type { TrustedKey } from '../firmware/manifest.js';
import { BatonError, errorCodes, type ErrorCode } from './errors.js';
import { FREE_FORM_MAX_DEPTH, jsonDepth } from './json.js';
import { DEVICE_ID_PATTERN, TOPIC_SEGMENT_PATTERN } from './topics.js';

// --- statuses ---------------------------------------------------------------------------------

export const EXECUTION_STATUSES = ['QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT', 'CANCELED', 'REMOVED'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];
export const executionStatusSchema = z.enum(EXECUTION_STATUSES);

export const TERMINAL_STATUSES: readonly ExecutionStatus[] = ['SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT', 'CANCELED', 'REMOVED'];
export const isTerminal = (s: ExecutionStatus): boolean => TERMINAL_STATUSES.includes(s);

/** What a device may set; the service sets the rest (docs/protocol/jobs.md has the whole table). */
export const DEVICE_STATUSES = ['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED'] as const;

export const JOB_STATUSES = ['SCHEDULED', 'IN_PROGRESS', 'PAUSED', 'COMPLETED', 'CANCELED', 'ABORTED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const jobStatusSchema = z.enum(JOB_STATUSES);

export const JOB_TYPES = ['firmware', 'config', 'custom'] as const;
export type JobType = (typeof JOB_TYPES)[number];

// --- shared fields ----------------------------------------------------------------------------

export const STATUS_DETAILS_MAX_BYTES = 1024;
export const jobIdSchema = z.string().regex(TOPIC_SEGMENT_PATTERN, 'job ids are 1–128 characters of A-Z a-z 0-9 _ - . :');
const jsonObject = z.record(z.string(), z.json());
const clientToken = z.string().min(1).max(64);
const isoTime = z.string();

/**
 * A small JSON object the device (or the service) explains the execution with; ≤ 1 KiB as compact
 * JSON, nested at most FREE_FORM_MAX_DEPTH levels (deeper: `TooDeep`, checked by the broker before
 * this schema recurses).
 */
export const statusDetailsSchema = jsonObject
  .refine((v) => jsonDepth(v) <= FREE_FORM_MAX_DEPTH, {
    message: `statusDetails may nest at most ${FREE_FORM_MAX_DEPTH} levels`,
    params: { batonCode: 'TooDeep' },
    abort: true,
  })
  .refine((v) => Buffer.byteLength(JSON.stringify(v)) <= STATUS_DETAILS_MAX_BYTES, {
    message: `statusDetails must be at most ${STATUS_DETAILS_MAX_BYTES} bytes of JSON`,
  });
export type StatusDetails = z.infer<typeof statusDetailsSchema>;

/** Progress of the work, e.g. of a firmware download: any of bytes, total and percent. */
export const progressSchema = z.strictObject({
  bytes: z.int().min(0).optional(),
  totalBytes: z.int().min(0).optional(),
  percent: z.number().min(0).max(100).optional(),
});
export type Progress = z.infer<typeof progressSchema>;

/** AWS caps step timers at a week; so do we. */
export const stepTimeoutSchema = z.int().min(1).max(7 * 86_400);

// --- job documents (what the device is asked to do) ---------------------------------------------

export const firmwareJobDocumentSchema = z.strictObject({
  type: z.literal('firmware'),
  firmwareId: z.string().regex(TOPIC_SEGMENT_PATTERN),
  version: z.string(),
  deviceClass: z.string(),
  size: z.int().min(0),
  /** The signed manifest (compact JWS), when the firmware feature supplies it. */
  manifest: z.string().optional(),
});
export const configJobDocumentSchema = z.strictObject({
  type: z.literal('config'),
  /** A compact JWS of `ConfigEnvelope`, signed for this device and job (see `openConfigEnvelope`). */
  envelope: z.string(),
});
export const customJobDocumentSchema = z.strictObject({ type: z.literal('custom'), document: jsonObject });
export const jobDocumentSchema = z.discriminatedUnion('type', [firmwareJobDocumentSchema, configJobDocumentSchema, customJobDocumentSchema]);
export type JobDocument = z.infer<typeof jobDocumentSchema>;
export type FirmwareJobDocument = z.infer<typeof firmwareJobDocumentSchema>;

// --- executions as devices see them -------------------------------------------------------------

/** `executionState` of update replies and rejections (AWS's name). */
export const executionStateSchema = z.strictObject({
  status: executionStatusSchema,
  statusDetails: jsonObject.nullable(),
  versionNumber: z.int(),
});
export type ExecutionState = z.infer<typeof executionStateSchema>;

export const executionSummarySchema = z.strictObject({
  jobId: z.string(),
  status: executionStatusSchema,
  queuedAt: isoTime,
  startedAt: isoTime.nullable(),
  lastUpdatedAt: isoTime,
  versionNumber: z.int(),
  /** The attempt: 1, then one more at each retry. */
  executionNumber: z.int(),
});
export type ExecutionSummary = z.infer<typeof executionSummarySchema>;

export const jobExecutionSchema = executionSummarySchema.extend({
  deviceId: z.string(),
  statusDetails: jsonObject.nullable(),
  progress: progressSchema.nullable(),
  jobDocument: jobDocumentSchema,
});
export type JobExecution = z.infer<typeof jobExecutionSchema>;

// --- requests (device → broker) -------------------------------------------------------------------

export const jobsGetRequestSchema = z.strictObject({ clientToken: clientToken.optional() });
export const startNextRequestSchema = z.strictObject({
  statusDetails: statusDetailsSchema.optional(),
  stepTimeoutS: stepTimeoutSchema.optional(),
  clientToken: clientToken.optional(),
});
export const describeRequestSchema = z.strictObject({ clientToken: clientToken.optional() });
export const updateRequestSchema = z.strictObject({
  status: executionStatusSchema,
  statusDetails: statusDetailsSchema.optional(),
  progress: progressSchema.optional(),
  /** Optimistic concurrency: refused with VersionMismatch unless equal to the current versionNumber. */
  expectedVersion: z.int().min(0).optional(),
  /** Starts (or restarts) the step timer: TIMED_OUT unless updated again within this many seconds. */
  stepTimeoutS: stepTimeoutSchema.optional(),
  clientToken: clientToken.optional(),
});
export type UpdateRequest = z.infer<typeof updateRequestSchema>;
export type StartNextRequest = z.infer<typeof startNextRequestSchema>;

/** Sent on every connect: what the device runs, and the execution a restart interrupted, if any. */
export const reconcileRequestSchema = z.strictObject({
  firmwareVersion: z.string().min(1).max(64),
  jobId: jobIdSchema.optional(),
  /** The device's own last view of that execution. */
  status: executionStatusSchema.optional(),
  clientToken: clientToken.optional(),
});
export type ReconcileRequest = z.infer<typeof reconcileRequestSchema>;

// --- replies (broker → device) --------------------------------------------------------------------

const replyBase = { timestamp: isoTime, clientToken: clientToken.optional() };

export const jobsGetAcceptedSchema = z.strictObject({
  inProgressJobs: z.array(executionSummarySchema),
  queuedJobs: z.array(executionSummarySchema),
  ...replyBase,
});
export const executionReplySchema = z.strictObject({ execution: jobExecutionSchema.nullable(), ...replyBase });
export type ExecutionReply = z.infer<typeof executionReplySchema>;
export const updateAcceptedSchema = z.strictObject({ executionState: executionStateSchema, ...replyBase });
export const notifyNextSchema = z.strictObject({ execution: jobExecutionSchema.nullable(), timestamp: isoTime });
export type NotifyNext = z.infer<typeof notifyNextSchema>;

export const RECONCILE_ACTIONS = ['SUCCEEDED', 'FAILED', 'UPDATED', 'UNCHANGED'] as const;
export const reconcileDecisionSchema = z.strictObject({
  jobId: z.string(),
  action: z.enum(RECONCILE_ACTIONS),
  /** Why, e.g. `TargetVersionRunning`, `RebootedIntoOldVersion`. */
  reason: z.string(),
  executionState: executionStateSchema.nullable(),
});
export type ReconcileDecision = z.infer<typeof reconcileDecisionSchema>;
export const reconcileAcceptedSchema = z.strictObject({ decisions: z.array(reconcileDecisionSchema), ...replyBase });

export const jobRejectedSchema = z.strictObject({
  code: z.enum(errorCodes as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
  executionState: executionStateSchema.nullable(),
  ...replyBase,
});
export type JobRejected = z.infer<typeof jobRejectedSchema>;

/** `fleet/events/jobs/{jobId}/{deviceId}`: every execution change, for integrations. */
export const jobExecutionEventSchema = z.strictObject({
  jobId: z.string(),
  deviceId: z.string(),
  status: executionStatusSchema,
  versionNumber: z.int(),
  executionNumber: z.int(),
  statusDetails: jsonObject.nullable(),
  progress: progressSchema.nullable(),
  at: isoTime,
});
export type JobExecutionEvent = z.infer<typeof jobExecutionEventSchema>;

// --- config envelopes -------------------------------------------------------------------------------

/** JWS `typ` (RFC 8725 §3.11), so a firmware manifest signed by the same key never passes as a config. */
export const CONFIG_ENVELOPE_TYP = 'baton-config-envelope';
export const CONFIG_MAX_BYTES = 64 * 1024;

export const configEnvelopeSchema = z.strictObject({
  deviceId: z.string().regex(DEVICE_ID_PATTERN),
  jobId: jobIdSchema,
  config: jsonObject,
  issuedAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
});
export type ConfigEnvelope = z.infer<typeof configEnvelopeSchema>;

/**
 * The device's checks of a config job's document, in order: signature by a pinned key
 * (`SignatureInvalid`, `UntrustedKey`), shape (`InvalidRequest`), bound to this device and this
 * job (`Replay`: an envelope captured from another device or job), and not expired (`Expired`).
 */
export function openConfigEnvelope(
  jws: string,
  expect: { trustedKeys: readonly TrustedKey[]; deviceId: string; jobId: string; now: number },
): ConfigEnvelope {
  if (jws.length > CONFIG_MAX_BYTES * 2) throw new BatonError('TooLarge', 'The config envelope is oversize.');
  const { payload } = verifyCompactJws(jws, expect.trustedKeys, CONFIG_ENVELOPE_TYP);
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new BatonError('InvalidRequest', 'The config envelope is not JSON.');
  }
  const parsed = configEnvelopeSchema.safeParse(value);
  if (!parsed.success) throw new BatonError('InvalidRequest', 'The config envelope does not match its schema.');
  const envelope = parsed.data;
  if (envelope.deviceId !== expect.deviceId || envelope.jobId !== expect.jobId) {
    throw new BatonError('Replay', `The envelope was issued for ${envelope.deviceId}/${envelope.jobId}.`);
  }
  if (Date.parse(envelope.expiresAt) <= expect.now) throw new BatonError('Expired', `The envelope expired at ${envelope.expiresAt}.`);
  return envelope;
}
