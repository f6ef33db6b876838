/**
 * Helpers for the rollout tests: sites, a small firmware image, a watcher of
 * `fleet/events/rollouts/{jobId}`, the executions with their reasons, devices that answer their
 * notifications on their own, and the scheduler's persisted state.
 */
import type { MqttClient } from 'mqtt';
import { randomImage, uploadImage } from './firmware.js';
import { jobsDevice, type JobsDevice } from './jobs.js';
import { ADMIN_TOKEN, eventually, type TestBaton } from './service.js';

export async function createSites(baton: TestBaton, sites: { id: string; uplinkBytesPerSec: number; timeZone?: string }[]): Promise<void> {
  for (const s of sites) {
    const res = await baton.api('POST', '/api/v1/sites', s);
    if (res.status !== 201) throw new Error(`site ${s.id}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

/** Uploads a random image for `deviceClass`; returns its id. */
export async function firmwareFor(baton: TestBaton, deviceClass = 'sensor', size = 4096, chunkSize = 1024, version = '2.0.0'): Promise<string> {
  const res = await uploadImage(baton, randomImage(size), { deviceClass, version, chunkSize });
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

export interface RolloutEventLog {
  client: MqttClient;
  events: any[];
  /** Resolves with the first event of `type` (and matching `filter`), waiting for it if needed. */
  next(type: string, filter?: (e: any) => boolean, timeoutMs?: number): Promise<any>;
}

/** An integration client on `fleet/events/rollouts/{jobId}`, recording every event. */
export async function rolloutEvents(baton: TestBaton, jobId: string): Promise<RolloutEventLog> {
  const client = await baton.connect({ clientId: `watch-${jobId}`, username: 'api', password: ADMIN_TOKEN });
  const events: any[] = [];
  client.on('message', (_topic, payload) => events.push(JSON.parse(payload.toString())));
  await client.subscribeAsync(`fleet/events/rollouts/${jobId}`, { qos: 1 });
  return {
    client,
    events,
    next: (type, filter = () => true, timeoutMs = 10_000) => eventually(() => events.find((e) => e.event === type && filter(e)), timeoutMs),
  };
}

/** Every execution of the job (up to 1000), with `reason` and `reasonDetails`. */
export async function allExecutions(baton: TestBaton, jobId: string): Promise<any[]> {
  const res = await baton.api('GET', `/api/v1/jobs/${jobId}/executions?limit=1000`);
  if (res.status !== 200) throw new Error(`executions: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.items;
}

export const admittedIds = async (baton: TestBaton, jobId: string): Promise<string[]> =>
  (await allExecutions(baton, jobId)).filter((e) => e.admittedAt !== null).map((e) => e.deviceId);

/** Waits until exactly `n` executions are admitted; returns their device ids. */
export const admittedCount = (baton: TestBaton, jobId: string, n: number, timeoutMs = 10_000) =>
  eventually(async () => {
    const ids = await admittedIds(baton, jobId);
    return ids.length === n ? ids : undefined;
  }, timeoutMs);

/** `GET /jobs/{id}/devices/{deviceId}`. */
export async function why(baton: TestBaton, jobId: string, deviceId: string): Promise<any> {
  return (await baton.api('GET', `/api/v1/jobs/${jobId}/devices/${deviceId}`)).body;
}

/** The scheduler's persisted state (006_rollouts.sql), as the store holds it now. */
export function storedRollout(baton: TestBaton, jobId: string): { state: any; config: any; phase: string } | undefined {
  const row = baton.service.store.db.prepare('SELECT state_json, config_json, phase FROM rollouts WHERE job_id = ?').get(jobId) as
    | { state_json: string; config_json: string; phase: string }
    | undefined;
  return row && { state: JSON.parse(row.state_json), config: JSON.parse(row.config_json), phase: row.phase };
}

/**
 * A device that answers every execution it is notified of, once: `outcome(jobId)` decides
 * SUCCEEDED or FAILED (or null to leave it alone). Returns the device and a stop function.
 */
export async function answeringDevice(baton: TestBaton, id: string, extra: Record<string, unknown>, outcome: (jobId: string) => 'SUCCEEDED' | 'FAILED' | null): Promise<JobsDevice> {
  const device = await jobsDevice(baton, id, extra);
  const answered = new Set<string>();
  device.client.on('message', (topic, payload) => {
    if (!topic.endsWith('/jobs/notify-next')) return;
    const execution = JSON.parse(payload.toString()).execution;
    if (!execution || answered.has(execution.jobId)) return;
    const status = outcome(execution.jobId);
    if (!status) return;
    answered.add(execution.jobId);
    void device.request(`${execution.jobId}/update`, { status }).catch(() => undefined);
  });
  return device;
}
