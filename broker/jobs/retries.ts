/**
 * Retries per failure type (AWS IoT Jobs' `retryCriteria`): a FAILED or TIMED_OUT attempt is
 * queued again as a new attempt while the attempt number is below that type's `maxAttempts`
 * (attempts in all, the first included). A retry keeps its place in the device's queue and its
 * admission, and keeps the failed attempt's `statusDetails` until the device reports again, so an
 * operator can see why it was retried.
 */
import type { ExecutionRecord, FailureType, RetryPolicy } from './model.js';

const failureTypes: readonly string[] = ['FAILED', 'TIMED_OUT'] satisfies FailureType[];

export function maxAttemptsFor(policies: readonly RetryPolicy[], failureType: FailureType): number {
  return policies.find((p) => p.failureType === failureType)?.maxAttempts ?? 1;
}

/** The QUEUED state of the next attempt after `failed`, or undefined when no retry is due. */
export function retryStep(failed: ExecutionRecord, policies: readonly RetryPolicy[], now: number): ExecutionRecord | undefined {
  if (!failureTypes.includes(failed.status)) return undefined;
  if (failed.attempt >= maxAttemptsFor(policies, failed.status as FailureType)) return undefined;
  return {
    ...failed,
    status: 'QUEUED',
    attempt: failed.attempt + 1,
    versionNumber: failed.versionNumber + 1,
    progress: null,
    startedAt: null,
    completedAt: null,
    stepDeadline: null,
    inProgressDeadline: null,
    updatedAt: now,
  };
}
