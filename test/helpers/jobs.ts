/**
 * Helpers for the jobs tests: a device speaking the jobs protocol over a raw mqtt.js client
 * (request/reply matched by clientToken, notify-next recorded), and job creation over REST.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import { topics } from '../../device-sdk/protocol/topics.js';
import { eventually, type TestBaton } from './service.js';

export interface Reply {
  outcome: 'accepted' | 'rejected';
  body: any;
}

export interface JobsDevice {
  id: string;
  secret: string;
  client: MqttClient;
  /** Publishes `devices/{id}/jobs/{op}` with a fresh clientToken and resolves with its reply. */
  request(op: string, body?: object): Promise<Reply>;
  /** Every notify-next payload received so far. */
  notifications: any[];
  /** Resolves once `count` notify-next messages have arrived; returns the last. */
  notified(count: number): Promise<any>;
}

let tokens = 0;

/** Listens on `devices/{id}/jobs/#` on an already connected client. */
export async function jobsClient(client: MqttClient, device: { id: string; secret: string }): Promise<JobsDevice> {
  const notifications: any[] = [];
  const waiting = new Map<string, (reply: Reply) => void>();
  client.on('message', (topic, payload) => {
    if (!topic.startsWith(`devices/${device.id}/jobs/`)) return;
    const body = JSON.parse(payload.toString());
    if (topic.endsWith('/notify-next')) return void notifications.push(body);
    const outcome = topic.endsWith('/accepted') ? 'accepted' : topic.endsWith('/rejected') ? 'rejected' : undefined;
    if (outcome && typeof body.clientToken === 'string') waiting.get(body.clientToken)?.({ outcome, body });
  });
  await client.subscribeAsync(`devices/${device.id}/jobs/#`, { qos: 1 });
  return {
    ...device,
    client,
    notifications,
    request(op, body = {}) {
      const clientToken = `t-${++tokens}`;
      return new Promise<Reply>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reply to ${op}`)), 5000);
        waiting.set(clientToken, (reply) => {
          clearTimeout(timer);
          waiting.delete(clientToken);
          resolve(reply);
        });
        client.publishAsync(topics.jobs(device.id, op), JSON.stringify({ ...body, clientToken }), { qos: 1 }).catch(reject);
      });
    },
    notified: (count) => eventually(() => (notifications.length >= count ? notifications[count - 1] : undefined)),
  };
}

/** Registers a device, connects it, and listens to its job topics. */
export async function jobsDevice(baton: TestBaton, id: string, extra: Record<string, unknown> = {}, options: IClientOptions = {}): Promise<JobsDevice> {
  const device = await baton.createDevice(id, extra);
  return jobsClient(await baton.connectDevice(device, options), device);
}

/** `POST /api/v1/jobs`; throws unless 201. */
export async function createJob(baton: TestBaton, body: object): Promise<any> {
  const res = await baton.api('POST', '/api/v1/jobs', body);
  if (res.status !== 201) throw new Error(`create job: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A custom job for these devices, admitted at once. */
export const customJob = (baton: TestBaton, id: string, devices: string[], extra: object = {}) =>
  createJob(baton, { id, type: 'custom', document: { op: 'reboot' }, targets: { devices }, rollout: { maxPerMinute: 60_000 }, ...extra });

export async function jobDetail(baton: TestBaton, id: string): Promise<any> {
  return (await baton.api('GET', `/api/v1/jobs/${id}`)).body;
}

/** Waits until the job has `status`. */
export const jobStatus = (baton: TestBaton, id: string, status: string) =>
  eventually(async () => ((await jobDetail(baton, id)).status === status ? true : undefined));

export async function executions(baton: TestBaton, jobId: string, status?: string): Promise<any[]> {
  return (await baton.api('GET', `/api/v1/jobs/${jobId}/executions${status ? `?status=${status}` : ''}`)).body.items;
}
