/**
 * Block delivery: one queue per device, served independently, so a slow device never stalls the
 * others. Each job is read from disk when its turn comes (queued jobs hold no image bytes), paid
 * for in the pacing buckets, and published at QoS 0 at once.
 *
 * Backpressure: aedes calls a QoS 0 publish back only once the bytes are written to the device's
 * socket, after a `drain` if its buffer was full (aedes lib/write.js). A queue keeps at most
 * `PIPELINE_DEPTH` publishes unfinished, so a device that reads slowly only ever slows its own
 * queue, and the broker buffers at most that many blocks for it.
 *
 * Bounds: a device has at most `maxOutstanding` distinct blocks queued (`RateLimited` beyond); a
 * block asked for again while still queued is not queued twice, so re-requests after a timeout
 * cost nothing.
 */
import type { Logger } from 'pino';
import { BatonError } from '../../device-sdk/protocol/errors.js';
import type { Publisher } from '../mqtt/publisher.js';
import type { Pacing } from './pacing.js';

export interface DeliveryJob {
  /** Unique within a device's queue, e.g. `{firmwareId}/{index}`. */
  key: string;
  firmwareId: string;
  topic: string;
  read(): Promise<Buffer>;
}

type Site = { id: string; uplinkBytesPerSec: number } | undefined;

/** Publishes unfinished per device: enough to keep a fast socket busy, few enough to buffer little. */
export const PIPELINE_DEPTH = 4;
/**
 * Publishes unfinished over all devices. aedes' emitter delivers at most 100 messages at once for
 * the whole broker (mqemitter `concurrency`), and a block to a socket that is full holds its slot
 * until the socket drains: firmware never takes more than this share, so telemetry, shadows and
 * replies keep flowing even if every downloading device stopped reading.
 */
export const MAX_UNFINISHED = 32;

interface DeviceQueue {
  deviceId: string;
  site: Site;
  jobs: DeliveryJob[];
  keys: Set<string>;
  inFlight: number;
  running: boolean;
  /** The job after the head, its read already started. */
  next?: { job: DeliveryJob; data: Promise<Buffer | undefined> } | undefined;
}

export interface DeliveryOptions {
  publisher: Publisher;
  pacing: Pacing;
  maxOutstanding: number;
  log: Logger;
  /** Bytes handed to a device's socket, in the tick the limiter granted them. */
  onSent?(deviceId: string, firmwareId: string, bytes: number): void;
  /** Asked before each block: false drops the device's queued blocks of that firmware (its window closed); it asks again later. */
  mayStream?(deviceId: string, firmwareId: string): boolean;
}

export function createDelivery({ publisher, pacing, maxOutstanding, log, onSent, mayStream }: DeliveryOptions) {
  const queues = new Map<string, DeviceQueue>();
  /** Queues that stopped because all `MAX_UNFINISHED` slots were taken, in the order they stopped. */
  const waitingForSlot = new Set<DeviceQueue>();
  let unfinished = 0;
  const sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  let closed = false;

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleeper = { timer: setTimeout(() => wake(), ms), wake: () => wake() };
      const wake = () => {
        clearTimeout(sleeper.timer);
        sleepers.delete(sleeper);
        resolve();
      };
      sleepers.add(sleeper);
    });
  }

  /** False once the queue was dropped (device gone) or delivery closed. */
  const live = (q: DeviceQueue) => !closed && queues.get(q.deviceId) === q;

  /** Waits until the device's buckets grant `bytes`, in slices no larger than a bucket's depth. */
  async function pay(q: DeviceQueue, bytes: number, firmwareId: string): Promise<boolean> {
    let owed = bytes;
    while (owed > 0) {
      if (!live(q) || mayStream?.(q.deviceId, firmwareId) === false) return false;
      const slice = Math.min(owed, pacing.sliceBytes);
      const limiter = pacing.limiterFor(q.deviceId, q.site);
      if (limiter.tryTake(slice)) owed -= slice;
      else await sleep(Math.max(1, limiter.timeUntil(slice)));
    }
    return true;
  }

  /** A pipeline slot (the device's and the broker-wide one), taken before the read. */
  function release(q: DeviceQueue): void {
    q.inFlight--;
    unfinished--;
    for (const waiting of waitingForSlot) {
      waitingForSlot.delete(waiting);
      if (live(waiting)) {
        void run(waiting);
        break;
      }
    }
  }

  /** Publishes a paid-for job now; its completion (bytes written to the socket) frees its slot. */
  function send(q: DeviceQueue, job: DeliveryJob, payload: Buffer): void {
    onSent?.(q.deviceId, job.firmwareId, payload.length);
    publisher.publish(job.topic, payload, 0)
      .catch((err: unknown) => log.warn({ err, deviceId: q.deviceId, key: job.key }, 'firmware block not delivered'))
      .finally(() => {
        release(q);
        void run(q);
      });
  }

  /**
   * Serves a queue: take a slot, read the next job, pay for it, publish it. Paying after the read
   * and publishing in the same tick as the take makes the bytes the limiter grants the bytes
   * handed to the socket, then and there, so the envelope holds at the socket and not only in the
   * limiter's books.
   */
  async function run(q: DeviceQueue): Promise<void> {
    if (q.running) return;
    q.running = true;
    try {
      while (live(q) && q.inFlight < PIPELINE_DEPTH && q.jobs.length > 0) {
        if (unfinished >= MAX_UNFINISHED) {
          waitingForSlot.add(q);
          break;
        }
        q.inFlight++;
        unfinished++;
        const job = q.jobs[0]!;
        if (mayStream?.(q.deviceId, job.firmwareId) === false) {
          dropDeviceFirmware(q, job.firmwareId);
          release(q);
          continue;
        }
        const reading = readOf(q, job);
        readAhead(q);
        const payload = await reading;
        if (!payload) drop(q, job);
        if (!payload || !(await pay(q, payload.length, job.firmwareId)) || q.jobs[0] !== job) {
          release(q);
          continue;
        }
        drop(q, job);
        send(q, job, payload);
      }
    } finally {
      q.running = false;
      if (q.jobs.length === 0 && q.inFlight === 0 && live(q)) queues.delete(q.deviceId);
    }
  }

  /** The job's bytes: read ahead already, or read now. */
  function readOf(q: DeviceQueue, job: DeliveryJob): Promise<Buffer | undefined> {
    if (q.next?.job === job) {
      const { data } = q.next;
      q.next = undefined;
      return data;
    }
    return read(q, job);
  }

  /** Starts reading the job after the head while the head is paid for and sent: one disk read hides behind the other. */
  function readAhead(q: DeviceQueue): void {
    const following = q.jobs[1];
    if (following && q.next?.job !== following) q.next = { job: following, data: read(q, following) };
  }

  /** A job that cannot be read (its firmware was deleted) resolves to undefined and is dropped. */
  async function read(q: DeviceQueue, job: DeliveryJob): Promise<Buffer | undefined> {
    try {
      return await job.read();
    } catch (err) {
      log.warn({ err, deviceId: q.deviceId, key: job.key }, 'firmware block not readable; dropped');
      return undefined;
    }
  }

  /** Drops a device's queued blocks of one firmware (they would be sent outside its window). */
  function dropDeviceFirmware(q: DeviceQueue, firmwareId: string): void {
    for (const j of q.jobs) if (j.firmwareId === firmwareId) q.keys.delete(j.key);
    q.jobs = q.jobs.filter((j) => j.firmwareId !== firmwareId);
    if (q.next?.job.firmwareId === firmwareId) q.next = undefined;
  }

  /** Takes a job off the head of its queue (sent, or unreadable). */
  function drop(q: DeviceQueue, job: DeliveryJob): void {
    if (q.jobs[0] !== job) return;
    q.jobs.shift();
    q.keys.delete(job.key);
  }

  return {
    /** Queues jobs for a device (duplicates of queued ones are skipped); `RateLimited` over the bound. */
    enqueue(deviceId: string, site: Site, jobs: DeliveryJob[]): void {
      if (closed) throw new BatonError('Unavailable', 'The broker is stopping.');
      let q = queues.get(deviceId);
      const fresh = jobs.filter((j) => !q?.keys.has(j.key));
      const queued = q?.jobs.length ?? 0;
      if (queued + fresh.length > maxOutstanding) {
        throw new BatonError('RateLimited', `At most ${maxOutstanding} blocks may be outstanding; ${queued} are queued.`, { outstanding: queued });
      }
      if (!q) {
        q = { deviceId, site, jobs: [], keys: new Set(), inFlight: 0, running: false };
        queues.set(deviceId, q);
      }
      q.site = site;
      for (const job of fresh) {
        q.jobs.push(job);
        q.keys.add(job.key);
      }
      void run(q);
    },
    /** The device disconnected: its queued blocks would go nowhere (QoS 0), so they are dropped. */
    dropDevice(deviceId: string): void {
      queues.delete(deviceId);
    },
    /** The firmware was deleted: nothing more of it is sent. */
    dropFirmware(firmwareId: string): void {
      for (const q of queues.values()) {
        for (const j of q.jobs) if (j.firmwareId === firmwareId) q.keys.delete(j.key);
        q.jobs = q.jobs.filter((j) => j.firmwareId !== firmwareId);
      }
    },
    outstanding: (deviceId: string) => queues.get(deviceId)?.jobs.length ?? 0,
    close(): void {
      closed = true;
      queues.clear();
      waitingForSlot.clear();
      for (const s of [...sleepers]) s.wake();
    },
  };
}

export type Delivery = ReturnType<typeof createDelivery>;
