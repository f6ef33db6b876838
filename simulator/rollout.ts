/**
 * The operator's side, for `--rollout`: upload a random image for the fleet's device class and
 * create a firmware job for the fleet with a canary, waves and abort criteria. (In the README's
 * tour the operator does the same with curl.)
 */
import { randomBytes } from 'node:crypto';
import type { AdminApi } from './api.js';

export interface RolloutSpec {
  jobId: string;
  deviceClass: string;
  tag: string;
  version: string;
  imageBytes: number;
  chunkBytes: number;
  canary?: { count?: number; percent?: number } | undefined;
  /** Cumulative percents after the canary, e.g. [10, 50]. */
  wavePercents?: number[] | undefined;
  successThresholdPct?: number | undefined;
  soakS?: number | undefined;
  /** Abort once this share (%) of executed devices failed (any failure type), after `abortMinExecuted`. */
  abortPct?: number | undefined;
  abortMinExecuted?: number | undefined;
  inProgressTimeoutS?: number | undefined;
  maxConcurrent?: number | undefined;
}

export async function uploadImage(api: AdminApi, spec: Pick<RolloutSpec, 'deviceClass' | 'version' | 'imageBytes' | 'chunkBytes'>): Promise<string> {
  const qs = new URLSearchParams({ deviceClass: spec.deviceClass, version: spec.version, chunkSize: String(spec.chunkBytes) });
  const res = await api.upload(`/api/v1/firmware?${qs}`, randomBytes(spec.imageBytes));
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

export function rolloutJob(spec: RolloutSpec, firmwareId: string): Record<string, unknown> {
  const rollout: Record<string, unknown> = {};
  if (spec.canary) rollout['canary'] = spec.canary;
  if (spec.wavePercents && spec.wavePercents.length > 0) rollout['waves'] = { percents: spec.wavePercents };
  if (spec.successThresholdPct !== undefined) rollout['successThresholdPct'] = spec.successThresholdPct;
  if (spec.soakS !== undefined) rollout['soakS'] = spec.soakS;
  if (spec.maxConcurrent !== undefined) rollout['maxConcurrent'] = spec.maxConcurrent;
  return {
    id: spec.jobId,
    type: 'firmware',
    firmwareId,
    targets: { tags: [spec.tag], deviceClass: spec.deviceClass },
    rollout,
    ...(spec.abortPct === undefined ? {} : { abort: { criteria: [{ failureType: 'ALL', thresholdPercentage: spec.abortPct, minExecuted: spec.abortMinExecuted ?? 10 }] } }),
    timeouts: { inProgressS: spec.inProgressTimeoutS ?? 3600 },
    description: 'simulated rollout',
  };
}

/** Uploads the image and creates the job; returns the job as created. */
export async function createRollout(api: AdminApi, spec: RolloutSpec): Promise<{ jobId: string; firmwareId: string }> {
  const firmwareId = await uploadImage(api, spec);
  await api.must('POST', '/api/v1/jobs', rolloutJob(spec, firmwareId), [201]);
  return { jobId: spec.jobId, firmwareId };
}
