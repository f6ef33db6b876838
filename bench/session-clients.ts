/**
 * The sessions bench's load client (bench/sessions.ts): anonymous mqtt.js connections (no
 * username, so no device has to be registered: Baton runs with BATON_ALLOW_ANONYMOUS=true), each
 * session its own client id and its own topic `s/<i>`, and a publisher that queues QoS 1 messages
 * for them while they are offline. The same client runs against Baton and Mosquitto.
 */
import type { Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { pool } from '../simulator/fleet.js';

export const sessionClientId = (i: number): string => `sess-${String(i).padStart(5, '0')}`;
export const sessionTopic = (i: number): string => `s/${i}`;

export interface SessionConnectOptions {
  clean: boolean;
  /** CONNECTs in flight at a time (each waits for its CONNACK, and its SUBACK when it subscribes). */
  concurrency: number;
  /** Subscribe each client to its own topic at QoS 1 once connected. */
  subscribe?: boolean;
  /** Attached before the CONNECT is sent: a persistent session's queue arrives right after CONNACK. */
  onMessage?: (index: number, topic: string, payload: Buffer) => void;
}

/** One client; rejects if the connection fails or closes before CONNACK. */
export function connectAnonymous(url: string, clientId: string, clean: boolean, onMessage?: (topic: string, payload: Buffer) => void): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      clientId,
      clean,
      protocolVersion: 4,
      keepalive: 60,
      reconnectPeriod: 0,
      connectTimeout: 120_000,
      queueQoSZero: false,
      resubscribe: false,
    });
    if (onMessage) client.on('message', onMessage);
    const failed = (err?: Error) => {
      client.off('connect', connected);
      client.end(true);
      reject(err ?? new Error(`${clientId}: connection closed before CONNACK`));
    };
    const onError = (err: Error) => failed(err);
    const onClose = () => failed();
    const connected = () => {
      client.off('error', onError);
      client.off('close', onClose);
      (client.stream as Socket).setNoDelay(true);
      resolve(client);
    };
    client.once('error', onError);
    client.once('close', onClose);
    client.once('connect', connected);
  });
}

/** Connects sessions `0 … count-1` (and subscribes each to `s/<i>` when asked), `concurrency` at a time. */
export function connectSessions(url: string, count: number, opts: SessionConnectOptions): Promise<MqttClient[]> {
  const indexes = Array.from({ length: count }, (_, i) => i);
  return pool(indexes, opts.concurrency, async (i) => {
    const onMessage = opts.onMessage;
    const client = await connectAnonymous(url, sessionClientId(i), opts.clean, onMessage && ((topic, payload) => onMessage(i, topic, payload)));
    if (opts.subscribe) {
      const granted = await client.subscribeAsync(sessionTopic(i), { qos: 1 });
      if (granted[0]?.qos !== 1) throw new Error(`${sessionClientId(i)}: SUBACK granted ${JSON.stringify(granted)}`);
    }
    return client;
  });
}

/** DISCONNECT and close every client (a persistent session stays on the broker). */
export async function endAll(clients: MqttClient[]): Promise<void> {
  await pool(clients, 500, (c) => c.endAsync().catch(() => undefined));
}

/** The payload of message `k` for session `i`: small telemetry-like JSON, checked on receipt. */
export const sessionPayload = (i: number, k: number): Buffer =>
  Buffer.from(JSON.stringify({ session: i, seq: k, temperature: 21.5, at: Date.now() }));

export interface QueueResult {
  messages: number;
  elapsedS: number;
  /** CPU seconds this (load) process used. */
  clientCpuS: number;
}

/**
 * Publishes `perSession` QoS 1 messages to each of `sessions` topics (`s/<i>`, message k to every
 * topic before k+1) over `publishers` anonymous connections, each keeping `inflight` publishes
 * awaiting PUBACK. Resolves once every one was acknowledged, i.e. queued by the broker.
 */
export async function queueMessages(
  url: string,
  opts: { sessions: number; perSession: number; publishers: number; inflight: number },
): Promise<QueueResult> {
  const total = opts.sessions * opts.perSession;
  const clients = await pool(Array.from({ length: opts.publishers }, (_, p) => p), 50, (p) => connectAnonymous(url, `sess-publisher-${p}`, true));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  let acked = 0;
  try {
    await Promise.all(
      clients.map(
        (client) =>
          new Promise<void>((resolve, reject) => {
            let outstanding = 0;
            const onClose = () => reject(new Error(`${client.options.clientId}: connection closed while queueing`));
            client.once('close', onClose);
            const send = () => {
              if (next >= total) {
                if (outstanding === 0) {
                  client.off('close', onClose);
                  resolve();
                }
                return;
              }
              const m = next++;
              const i = m % opts.sessions;
              const k = Math.floor(m / opts.sessions);
              outstanding++;
              client.publish(sessionTopic(i), sessionPayload(i, k), { qos: 1 }, (err) => {
                outstanding--;
                if (err) return reject(err);
                acked++;
                send();
              });
            };
            for (let n = 0; n < opts.inflight; n++) send();
          }),
      ),
    );
  } finally {
    await endAll(clients);
  }
  const cpu = process.cpuUsage(cpu0);
  return { messages: acked, elapsedS: (performance.now() - t0) / 1000, clientCpuS: (cpu.user + cpu.system) / 1e6 };
}

/**
 * Counts deliveries per (session, message): `distinct` reaches sessions × perSession when every
 * queued message arrived; a second copy (a redelivery) counts as a duplicate, a payload that does
 * not belong to its topic as wrong.
 */
export class DeliveryTally {
  private readonly seen: Uint8Array;
  distinct = 0;
  duplicates = 0;
  wrong = 0;
  /** performance.now() of the delivery that completed the set. */
  completedAt: number | undefined;
  private onComplete: (() => void) | undefined;

  constructor(
    readonly sessions: number,
    readonly perSession: number,
  ) {
    this.seen = new Uint8Array(sessions * perSession);
  }

  get expected(): number {
    return this.sessions * this.perSession;
  }

  record = (index: number, topic: string, payload: Buffer): void => {
    let msg: { session?: unknown; seq?: unknown };
    try {
      msg = JSON.parse(payload.toString()) as typeof msg;
    } catch {
      this.wrong++;
      return;
    }
    const k = msg.seq;
    if (msg.session !== index || topic !== sessionTopic(index) || typeof k !== 'number' || k < 0 || k >= this.perSession) {
      this.wrong++;
      return;
    }
    const slot = index * this.perSession + k;
    if (this.seen[slot]) {
      this.duplicates++;
      return;
    }
    this.seen[slot] = 1;
    this.distinct++;
    if (this.distinct === this.expected) {
      this.completedAt = performance.now();
      this.onComplete?.();
    }
  };

  /** Sessions that did not get all their messages. */
  incompleteSessions(): number {
    let n = 0;
    for (let i = 0; i < this.sessions; i++) {
      for (let k = 0; k < this.perSession; k++) {
        if (!this.seen[i * this.perSession + k]) {
          n++;
          break;
        }
      }
    }
    return n;
  }

  /** Resolves true when every message arrived, false after `timeoutMs`. */
  complete(timeoutMs: number): Promise<boolean> {
    if (this.distinct === this.expected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.onComplete = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}
