/**
 * Telemetry: each call is one JSON object on `devices/{id}/telemetry[/{stream}]`. Online, it is
 * published at once; offline, it waits in the bounded offline queue and is published, in
 * order, when the link is back.
 */
import { OfflineQueue } from './offline-queue.js';
import { BatonError } from './protocol/errors.js';
import { isJsonObject } from './protocol/json.js';
import { TOPIC_SEGMENT_PATTERN, topics } from './protocol/topics.js';

export interface TelemetryOptions {
  /** A named stream: `devices/{id}/telemetry/{stream}`. */
  stream?: string;
  /** 1 (default): resolved once the broker stored it. 0: resolved once written to the socket. */
  qos?: 0 | 1;
}

export interface TelemetryLink {
  online(): boolean;
  publish(topic: string, payload: string, qos: 0 | 1): Promise<void>;
}

interface Outgoing {
  topic: string;
  payload: string;
  qos: 0 | 1;
  resolve(): void;
  reject(err: Error): void;
}

export class TelemetrySender {
  private readonly queue: OfflineQueue<Outgoing>;
  sent = 0;
  inFlight = 0;

  constructor(
    private readonly deviceId: string,
    private readonly link: TelemetryLink,
    limit: number,
  ) {
    this.queue = new OfflineQueue(limit);
  }

  get queued(): number {
    return this.queue.size;
  }

  get dropped(): number {
    return this.queue.dropped;
  }

  send(data: object, options: TelemetryOptions = {}): Promise<void> {
    const { stream, qos = 1 } = options;
    if (!isJsonObject(data)) return Promise.reject(new BatonError('InvalidRequest', 'telemetry must be a JSON object'));
    if (stream !== undefined && !TOPIC_SEGMENT_PATTERN.test(stream)) {
      return Promise.reject(new BatonError('InvalidRequest', `stream must be 1–128 characters of A-Z a-z 0-9 _ - . :, not ${JSON.stringify(stream)}`));
    }
    if (qos !== 0 && qos !== 1) return Promise.reject(new BatonError('InvalidRequest', `qos must be 0 or 1, not ${String(qos)}`));
    let payload: string;
    try {
      payload = JSON.stringify(data);
    } catch (err) {
      return Promise.reject(new BatonError('InvalidRequest', `telemetry is not serialisable as JSON: ${(err as Error).message}`));
    }
    const sent = new Promise<void>((resolve, reject) => {
      const item = { topic: topics.telemetry(this.deviceId, stream), payload, qos, resolve, reject };
      if (this.link.online()) {
        this.transmit(item);
        return;
      }
      const dropped = this.queue.push(item);
      dropped?.reject(new BatonError('RateLimited', `dropped from the full offline queue (limit ${this.queue.limit})`, { reason: 'offline-queue-full' }));
    });
    // Telemetry is often fire-and-forget: a drop or a close must not become an unhandledRejection
    // that kills the device app. Callers who await still see the error; stats count the drops.
    sent.catch(() => undefined);
    return sent;
  }

  /** At connect: publish what waited, oldest first. */
  flush(): void {
    for (const item of this.queue.drain()) this.transmit(item);
  }

  /** At close: what never left fails. */
  failQueued(err: Error): void {
    for (const item of this.queue.drain()) item.reject(err);
  }

  private transmit(item: Outgoing): void {
    this.inFlight++;
    this.link.publish(item.topic, item.payload, item.qos).then(
      () => {
        this.inFlight--;
        this.sent++;
        item.resolve();
      },
      (err: unknown) => {
        this.inFlight--;
        item.reject(err as Error);
      },
    );
  }
}
