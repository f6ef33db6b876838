/**
 * The link to the broker: one mqtt.js client and the reconnect loop around it.
 *
 * mqtt.js can only retry at a fixed `reconnectPeriod` (a `setInterval`), so it runs with
 * `reconnectPeriod: 0` and this module schedules each attempt itself, after a full-jitter delay
 * (backoff.ts), on the injected clock. The session is persistent (`clean: false`) and the
 * mqtt.js stores are kept across attempts, so a QoS 1 message in flight when the link drops is
 * sent again once it is back [MQTT-4.4.0-1], and replies queued by the broker are delivered.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { nextDelay } from './backoff.js';
import type { ResolvedOptions } from './options.js';
import { asBatonError, connectionError, where } from './link-errors.js';
import { BatonError } from './protocol/errors.js';

export interface LinkHooks {
  /** After CONNACK and after mqtt.js re-sent what was in flight; the link is in use once this resolves. */
  up(): Promise<void>;
  /** The link dropped after CONNACK. */
  down(): void;
  /** Something went wrong that the loop recovers from on its own (a failed attempt, a refusal). */
  error(err: BatonError): void;
  message(topic: string, payload: Buffer): void;
}

interface FirstAttempt {
  resolve(): void;
  reject(err: BatonError): void;
  error?: BatonError;
}

export class Connection {
  readonly mqtt: MqttClient;
  private connacks = 0;
  private linkUp = false;
  private attempt = 0;
  private timer: unknown;
  private first: FirstAttempt | undefined;
  private closing: Promise<void> | undefined;
  private readonly inFlight = new Set<(err: Error) => void>();

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly hooks: LinkHooks,
  ) {
    this.mqtt = mqtt.connect(opts.url, mqttOptions(opts));
    this.mqtt.on('connect', () => this.onConnect());
    this.mqtt.on('close', () => this.onClose());
    this.mqtt.on('error', (err) => this.onError(err));
    this.mqtt.on('message', (topic, payload) => hooks.message(topic, payload));
  }

  /** Counts CONNACKs, so work begun on one link can tell that link has since been replaced. */
  get generation(): number {
    return this.connacks;
  }

  get reconnects(): number {
    return Math.max(0, this.connacks - 1);
  }

  isUp(): boolean {
    return this.linkUp;
  }

  /** Resolves once the first link is up; rejects with the reason if the first attempt fails (no retry). */
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.first = { resolve, reject };
      this.mqtt.connect();
    });
  }

  /** Resolves when the broker acknowledged (QoS 1) or the packet was written (QoS 0). */
  publish(topic: string, payload: string, qos: 0 | 1): Promise<void> {
    return new Promise((resolve, reject) => {
      this.inFlight.add(reject);
      this.mqtt.publish(topic, payload, { qos }, (err) => {
        this.inFlight.delete(reject);
        if (err) reject(new BatonError('Unavailable', `publish to ${topic} failed: ${err.message}`, { topic }));
        else resolve();
      });
    });
  }

  subscribe(filters: string[]): Promise<Array<{ topic: string; qos: number }>> {
    return new Promise((resolve, reject) => {
      this.mqtt.subscribe(Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }])), (err, requested, suback) => {
        // A SUBACK, even one refusing some filters (0x80, MQTT-3.9.3), answers each filter in order;
        // no SUBACK means the link dropped first.
        if (!suback || !requested) return reject(err ?? new Error('no SUBACK'));
        resolve(requested.map(({ topic }, i) => ({ topic, qos: Number(suback.granted[i] ?? 0x80) })));
      });
    });
  }

  async unsubscribe(filter: string): Promise<void> {
    await this.mqtt.unsubscribeAsync(filter);
  }

  /** Stops the loop and ends the link: with a DISCONNECT after in-flight acks if it is up. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private onConnect(): void {
    const generation = ++this.connacks;
    this.linkUp = true;
    this.attempt = 0;
    this.hooks.up().then(
      () => {
        if (generation !== this.generation || !this.first) return;
        this.first.resolve();
        this.first = undefined;
      },
      (err: unknown) => {
        // The link dropped while it was being set up: onClose reconnects (or fails the first attempt).
        if (generation === this.generation && this.linkUp) this.hooks.error(asBatonError(err));
      },
    );
  }

  private onClose(): void {
    const wasUp = this.linkUp;
    this.linkUp = false;
    if (this.closing) return;
    if (this.first) {
      const { reject, error } = this.first;
      this.first = undefined;
      reject(error ?? new BatonError('Unavailable', `the connection to ${where(this.opts.url)} closed before it was set up`));
      return;
    }
    if (wasUp) this.hooks.down();
    this.scheduleReconnect();
  }

  private onError(err: Error): void {
    const mapped = connectionError(err, this.opts);
    if (this.first) this.first.error ??= mapped;
    else if (!this.closing) this.hooks.error(mapped);
  }

  private scheduleReconnect(): void {
    if (this.timer !== undefined) return;
    const delay = nextDelay(this.attempt++, this.opts.reconnect, this.opts.random);
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = undefined;
      // Pass the current stores: reconnect() without them starts empty ones and loses what is in flight.
      this.mqtt.reconnect({ incomingStore: this.mqtt.incomingStore, outgoingStore: this.mqtt.outgoingStore });
    }, delay);
  }

  private async shutDown(): Promise<void> {
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.endMqtt(this.linkUp);
    const err = new BatonError('Unavailable', 'the client closed before the broker acknowledged the message', { reason: 'closed' });
    for (const reject of this.inFlight) reject(err);
    this.inFlight.clear();
  }

  private endMqtt(graceful: boolean): Promise<void> {
    return new Promise((resolve) => {
      if (!graceful) {
        this.mqtt.end(true, () => resolve());
        return;
      }
      // A graceful end first waits for the acks of what is in flight; should the link drop
      // meanwhile, mqtt.js would wait for ever, so the stream closing ends the wait as well.
      const done = () => {
        this.mqtt.off('close', done);
        resolve();
      };
      this.mqtt.once('close', done);
      this.mqtt.end(false, done);
    });
  }
}

function mqttOptions(o: ResolvedOptions): IClientOptions {
  return {
    manualConnect: true,
    protocolVersion: 4, // MQTT 3.1.1, what the broker speaks
    clientId: o.deviceId,
    username: o.deviceId,
    ...(o.secret === undefined ? {} : { password: o.secret }),
    clean: false,
    keepalive: o.keepaliveS,
    connectTimeout: o.connectTimeoutMs,
    reconnectPeriod: 0,
    resubscribe: false, // subscriptions.ts subscribes again at every connect
    ...(o.cert === undefined ? {} : { cert: o.cert }),
    ...(o.key === undefined ? {} : { key: o.key }),
    ...(o.ca === undefined ? {} : { ca: o.ca }),
  };
}
