/**
 * `DeviceClient`: what a device app holds. It composes the link (connection.ts), the topic
 * handlers (subscriptions.ts), telemetry with its offline queue (telemetry.ts), health reports
 * (health-reporter.ts) and request/response (requests.ts), and owns their order: at each
 * connect, subscribe, then flush what waited, then report health, then tell the app.
 */
import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import { Connection } from './connection.js';
import { HealthReporter } from './health-reporter.js';
import { resolveOptions, type ConnectOptions, type ResolvedOptions } from './options.js';
import { BatonError } from './protocol/errors.js';
import { parseJsonObject } from './protocol/json.js';
import { deviceErrorSchema, type DeviceError, type HealthReport } from './protocol/schemas.js';
import { topics } from './protocol/topics.js';
import { Requests, type RequestOptions } from './requests.js';
import { Shadow } from './shadow.js';
import { attachJobs, type Jobs, type JobsOptions } from './jobs.js';
import { rotateCertificate, useCertificate, type NewCertificate, type RotateOptions } from './certificates.js';
import { Subscriptions, type TopicHandler, type Unsubscribe } from './subscriptions.js';
import { TelemetrySender, type TelemetryOptions } from './telemetry.js';

export interface DeviceClientEvents {
  /** The link is up, subscribed, and the offline queue flushed (after every reconnect too). */
  connect: [];
  /** The link dropped (the client reconnects on its own), or `close()` ended it. */
  disconnect: [];
  /** Informational: the client recovers on its own. Never thrown when nobody listens. */
  error: [err: Error];
  /** The broker dropped a message of this device and said why on `devices/{id}/errors`. */
  deviceError: [error: DeviceError];
}

export interface ClientStats {
  /** Telemetry waiting in the offline queue. */
  queued: number;
  /** Telemetry dropped from the full offline queue since connect(). */
  dropped: number;
  /** Telemetry acknowledged by the broker (QoS 1) or written (QoS 0). */
  sent: number;
  /** Telemetry handed to the link and not yet acknowledged. */
  inFlight: number;
  /** Successful reconnects since connect(). */
  reconnects: number;
}

const REPLY_MAX_BYTES = 1 << 20;

export class DeviceClient extends EventEmitter<DeviceClientEvents> {
  readonly deviceId: string;
  private readonly connection: Connection;
  private readonly subscriptions: Subscriptions;
  private readonly sender: TelemetrySender;
  private readonly health: HealthReporter;
  private readonly requests: Requests;
  /** One handle per shadow; the classic shadow is under `undefined`. */
  private readonly shadows = new Map<string | undefined, Shadow>();
  private readonly jobsOptions: JobsOptions;
  private jobsHandle: Jobs | undefined;
  private online = false;
  private closing: Promise<void> | undefined;

  /** Resolves once connected and subscribed; rejects (with nothing left open) if the first attempt fails. */
  static async connect(options: ConnectOptions): Promise<DeviceClient> {
    const client = new DeviceClient(resolveOptions(options));
    try {
      await client.connection.open();
    } catch (err) {
      await client.close();
      throw err;
    }
    return client;
  }

  private constructor(opts: ResolvedOptions) {
    super();
    this.deviceId = opts.deviceId;
    this.jobsOptions = opts.jobs;
    const report = (err: unknown) => this.report(err);
    const online = () => this.online;
    const publish = (topic: string, payload: string, qos: 0 | 1) => this.connection.publish(topic, payload, qos);
    this.connection = new Connection(opts, {
      up: () => this.linkUp(),
      down: () => this.linkDown(),
      error: report,
      message: (topic, payload) => this.subscriptions.dispatch(topic, payload),
    });
    this.subscriptions = new Subscriptions(this.connection, report);
    this.sender = new TelemetrySender(opts.deviceId, { online, publish }, opts.offlineQueueLimit);
    this.health = new HealthReporter({
      ...opts.health,
      clock: opts.clock,
      publish: (r) => publish(topics.health(opts.deviceId), JSON.stringify(r), 1),
      onError: report,
    });
    this.requests = new Requests(
      { online, publish, onTopic: (filter, handler) => this.onTopic(filter, handler) },
      { clock: opts.clock, newToken: opts.newToken, defaultTimeoutMs: opts.requestTimeoutMs },
    );
    this.subscriptions.on(topics.errors(opts.deviceId), this.onDeviceError).catch(report);
  }

  /** True while the link is up and in use (between 'connect' and 'disconnect'). */
  get connected(): boolean {
    return this.online;
  }

  get stats(): ClientStats {
    const { queued, dropped, sent, inFlight } = this.sender;
    return { queued, dropped, sent, inFlight, reconnects: this.connection.reconnects };
  }

  /** The underlying mqtt.js client, for what the SDK does not cover. Publishing on it bypasses the offline queue. */
  get mqtt(): MqttClient {
    return this.connection.mqtt;
  }

  /** Publishes one JSON object; queued while offline. See TelemetryOptions for when it resolves. */
  telemetry(data: object, options?: TelemetryOptions): Promise<void> {
    if (this.closing) return Promise.reject(closedError());
    return this.sender.send(data, options);
  }

  /** Sends a health report now (besides the periodic ones); resolves with it once stored. */
  reportHealth(): Promise<HealthReport> {
    if (!this.online) return Promise.reject(new BatonError('Unavailable', 'cannot report health: not connected', { reason: 'offline' }));
    return this.health.report();
  }

  /** Request/response on `topic`, `topic/accepted`, `topic/rejected` (see requests.ts). For feature modules. */
  request<T = Record<string, unknown>>(topic: string, payload: object, options?: RequestOptions<T>): Promise<T> {
    if (this.closing) return Promise.reject(closedError());
    return this.requests.request(topic, payload, options);
  }

  /** Calls `handler` for every message on `filter`; resolves once subscribed, kept across reconnects. */
  onTopic(filter: string, handler: TopicHandler): Promise<Unsubscribe> {
    if (this.closing) return Promise.reject(closedError());
    return this.subscriptions.on(filter, handler);
  }

  /** The classic shadow, or the named one: one handle per shadow, created on first use (see shadow.ts). */
  shadow(name?: string): Shadow {
    if (this.closing) throw closedError();
    let handle = this.shadows.get(name);
    if (!handle) {
      handle = new Shadow(this, name, (err) => this.report(err));
      this.shadows.set(name, handle);
    }
    return handle;
  }

  /** Jobs: `client.jobs.handle(type, handler)` runs the device's queued jobs (see jobs.ts); created on first use. */
  get jobs(): Jobs {
    if (this.closing) throw closedError();
    this.jobsHandle ??= attachJobs(this, this.jobsOptions);
    return this.jobsHandle;
  }

  /**
   * Gets a new certificate over this connection (see certificates.ts). Store it before relying on
   * it; with `apply: true` every later reconnect presents it.
   */
  async rotateCertificate(options: RotateOptions & { apply?: boolean } = {}): Promise<NewCertificate> {
    const rotated = await rotateCertificate(this, options);
    if (options.apply) useCertificate(this, rotated);
    return rotated;
  }

  /** Ends the link cleanly (after in-flight acks), fails what is still queued, and clears every timer. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.health.stop();
    await this.jobsHandle?.close();
    const err = closedError();
    this.sender.failQueued(err);
    this.requests.failAll(err);
    this.subscriptions.failWaiters(err);
    const wasOnline = this.online;
    this.online = false;
    await this.connection.close();
    if (wasOnline) this.emit('disconnect');
  }

  private async linkUp(): Promise<void> {
    const generation = this.connection.generation;
    await this.subscriptions.subscribeAll();
    if (generation !== this.connection.generation || !this.connection.isUp() || this.closing) return;
    this.online = true;
    this.sender.flush();
    this.health.start();
    this.emit('connect');
  }

  private linkDown(): void {
    this.subscriptions.linkDown();
    this.health.stop();
    if (!this.online) return;
    this.online = false;
    this.emit('disconnect');
  }

  private readonly onDeviceError: TopicHandler = ({ payload }) => {
    const parsed = deviceErrorSchema.safeParse(parseJsonObject(payload, REPLY_MAX_BYTES));
    if (!parsed.success) throw new BatonError('InternalError', 'the broker sent a malformed error report');
    this.requests.onDeviceError(parsed.data);
    this.emit('deviceError', parsed.data);
  };

  private report(err: unknown): void {
    if (this.closing) return;
    // Unlike a plain EventEmitter, an unheard 'error' is not thrown: the client recovers on its
    // own, and a broker restart must not crash the device app.
    if (this.listenerCount('error') > 0) this.emit('error', err instanceof Error ? err : new Error(String(err)));
  }
}

function closedError(): BatonError {
  return new BatonError('Unavailable', 'the client is closed', { reason: 'closed' });
}
