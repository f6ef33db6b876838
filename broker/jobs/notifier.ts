/**
 * What the jobs service announces, after each change is durable:
 * - `fleet/events/jobs/{jobId}/{deviceId}`: every state an execution goes through (integrations);
 * - `fleet/events/rollouts/{jobId}`: every job status change;
 * - `devices/{id}/jobs/notify-next`: the device's next pending execution (or null) when it changes,
 *   and on connect. "Changes" means another job or another attempt (AWS's NextJobExecutionChanged):
 *   progress updates of the running execution do not wake the device again.
 *
 * Notify-next goes to connected devices only (a device reads its queue on connect anyway), at most
 * once per device per turn of the event loop, and in order per device.
 */
import type { Logger } from 'pino';
import type { NotifyNext } from '../../device-sdk/protocol/jobs.js';
import { topics } from '../../device-sdk/protocol/topics.js';
import type { Publisher } from '../mqtt/publisher.js';
import type { PresenceTracker } from '../presence/tracker.js';
import type { ConfigSigner } from './config-envelope.js';
import { iso, toEvent, toJobExecution } from './documents.js';
import type { Steps } from './executions.js';
import type { JobRecord } from './model.js';
import type { JobRepo } from './repo.js';

export interface NotifierDeps {
  repo: JobRepo;
  publisher: Publisher;
  presence: PresenceTracker;
  signer: ConfigSigner;
  clock: () => number;
  log: Logger;
}

export type Notifier = ReturnType<typeof createNotifier>;

export function createNotifier({ repo, publisher, presence, signer, clock, log }: NotifierDeps) {
  /** The next execution each connected device was last told about: `jobId#attempt`, or `null`. */
  const lastSent = new Map<string, string>();
  const queues = new Map<string, Promise<void>>();
  const dirty = new Set<string>();
  let flushing: NodeJS.Immediate | undefined;

  const publish = (topic: string, body: object) =>
    publisher.publish(topic, body).catch((err: unknown) => log.warn({ err, topic }, 'job message not published'));

  async function send(deviceId: string, force: boolean): Promise<void> {
    if (!presence.session(deviceId)) return void lastSent.delete(deviceId);
    const [next] = await repo.pending(deviceId);
    const key = next ? `${next.jobId}#${next.attempt}` : 'null';
    if (!force && lastSent.get(deviceId) === key) return;
    lastSent.set(deviceId, key);
    const now = clock();
    const job = next && (await repo.getJob(next.jobId));
    const body: NotifyNext = { execution: next && job ? await toJobExecution(next, job, signer, now) : null, timestamp: iso(now) };
    await publish(topics.jobs(deviceId, 'notify-next'), body);
  }

  /** Serialized per device, so a slower earlier send never overtakes a later one. */
  function enqueue(deviceId: string, force: boolean): Promise<void> {
    const previous = queues.get(deviceId) ?? Promise.resolve();
    const current = previous.then(() => send(deviceId, force)).catch((err: unknown) => log.error({ err, deviceId }, 'notify-next failed'));
    queues.set(deviceId, current);
    void current.then(() => queues.get(deviceId) === current && queues.delete(deviceId));
    return current;
  }

  function flush(): void {
    flushing = undefined;
    const devices = [...dirty];
    dirty.clear();
    for (const d of devices) void enqueue(d, false);
  }

  return {
    /** An execution went through `steps`: tell integrations, and its device if its next changed. */
    executionChanged(steps: Steps): void {
      for (const s of steps) void publish(topics.jobEvent(s.jobId, s.deviceId), toEvent(s));
      const last = steps.at(-1);
      if (last) this.deviceChanged(last.deviceId);
    },
    /** The device's queue may have changed (admission, cancel): re-check its next at the end of this turn. */
    deviceChanged(deviceId: string): void {
      if (!presence.session(deviceId)) return;
      dirty.add(deviceId);
      flushing ??= setImmediate(flush);
    },
    /** `fleet/events/rollouts/{jobId}`: `created`, then `status` at every status change. */
    jobChanged(before: JobRecord | undefined, job: JobRecord): void {
      if (before?.status === job.status) return;
      const event = before ? { event: 'status', from: before.status } : { event: 'created' };
      void publish(topics.rolloutEvent(job.id), { jobId: job.id, ...event, status: job.status, reason: job.reason, at: iso(job.updatedAt) });
    },
    /** On connect: always sent, even if unchanged since the last connection. */
    connected: (deviceId: string) => enqueue(deviceId, true),
    disconnected: (deviceId: string) => void lastSent.delete(deviceId),
    /** Sends what is pending (for close). */
    async drain(): Promise<void> {
      if (flushing) clearImmediate(flushing), flush();
      await Promise.all(queues.values());
    },
  };
}
