/**
 * The load client, the same for every broker: simulated devices, each on its own mqtt.js
 * connection (client id = username = device id, password = its secret), publishing telemetry.
 * It runs in the bench's main process, apart from the broker under test.
 */
import type { Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { Samples } from './stats.js';
import { pool } from '../simulator/fleet.js';

export interface Device {
  id: string;
  secret: string;
}

/** Registers devices through Baton's admin API (`POST /api/v1/devices` → 201 with the secret). */
export function registerDevices(httpUrl: string, adminToken: string, ids: string[], concurrency = 50): Promise<Device[]> {
  return pool(ids, concurrency, async (id) => {
    const res = await fetch(`${httpUrl}/api/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id }),
    });
    const body = (await res.json()) as { secret?: string };
    if (res.status !== 201 || !body.secret) throw new Error(`registering ${id}: HTTP ${res.status} ${JSON.stringify(body)}`);
    return { id, secret: body.secret };
  });
}

/** Connects every device (at most `concurrency` handshakes at a time, to stay under the listen backlog). */
export function connectDevices(url: string, devices: readonly Device[], concurrency = 100): Promise<MqttClient[]> {
  return pool(devices, concurrency, async (d) => {
    const client = await mqtt.connectAsync(url, {
      clientId: d.id,
      username: d.id,
      password: d.secret,
      protocolVersion: 4,
      clean: true,
      keepalive: 60,
      reconnectPeriod: 0,
      connectTimeout: 30_000,
      queueQoSZero: false,
    });
    // Nagle would hold a publish back until the previous one's TCP ACK: a client-side delay
    // that both brokers would be charged for. (Baton and Mosquitto set TCP_NODELAY too.)
    (client.stream as Socket).setNoDelay(true);
    return client;
  });
}

export async function disconnectAll(clients: MqttClient[]): Promise<void> {
  await pool(clients, 500, (c) => c.endAsync(true).catch(() => undefined));
}

export interface WindowResult {
  /** Messages the broker processed: every QoS 1 publish was acknowledged. */
  messages: number;
  /** From the first publish to the last acknowledgement (the drain after the window included). */
  elapsedS: number;
  /** Publish-to-PUBACK latency in ms (QoS 1 only). */
  latenciesMs: Float64Array;
  /** CPU seconds this (load) process used in the window. */
  clientCpuS: number;
}

const payloadFor = (id: string) => Buffer.from(JSON.stringify({ deviceId: id, temperature: 21.5, humidity: 40.2, battery: 3.71 }));

/**
 * Every client publishes as fast as the window allows, then the bench waits until the broker has
 * processed all of it, so `messages / elapsedS` counts only work the broker did:
 * - QoS 1: each client keeps `inflight` publishes awaiting PUBACK; each ack sends the next.
 * - QoS 0: each client writes until its socket pushes back (TCP flow control is the window);
 *   after the window one QoS 1 marker per client is acknowledged only once the broker has read
 *   everything before it on that connection.
 */
export async function fanIn(clients: MqttClient[], opts: { qos: 0 | 1; durationMs: number; inflight: number }): Promise<WindowResult> {
  const latencies = new Samples();
  let messages = 0;
  let running = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stopTimer = setTimeout(() => (running = false), opts.durationMs);
  const perClient = opts.qos === 1 ? qos1Client : qos0Client;
  await Promise.all(
    clients.map((client) =>
      perClient(client, {
        inflight: opts.inflight,
        running: () => running,
        done: (n) => (messages += n),
        latency: (ms) => latencies.push(ms),
      }),
    ),
  );
  clearTimeout(stopTimer);
  const elapsedS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { messages, elapsedS, latenciesMs: latencies.values(), clientCpuS: (cpu.user + cpu.system) / 1e6 };
}

interface ClientRun {
  inflight: number;
  running(): boolean;
  done(messages: number): void;
  latency(ms: number): void;
}

/** Resolves when `client` has no publish outstanding after the window, or rejects if it closes. */
function qos1Client(client: MqttClient, run: ClientRun): Promise<void> {
  const topic = `devices/${client.options.clientId}/telemetry`;
  const payload = payloadFor(client.options.clientId!);
  return new Promise((resolve, reject) => {
    let outstanding = 0;
    let acked = 0;
    const onClose = () => reject(new Error(`${client.options.clientId}: connection closed during the window`));
    client.once('close', onClose);
    const send = () => {
      const started = performance.now();
      outstanding++;
      client.publish(topic, payload, { qos: 1 }, (err) => {
        outstanding--;
        if (err) return reject(err);
        acked++;
        run.latency(performance.now() - started);
        if (run.running()) send();
        else if (outstanding === 0) {
          client.off('close', onClose);
          run.done(acked);
          resolve();
        }
      });
    };
    for (let i = 0; i < run.inflight; i++) send();
  });
}

async function qos0Client(client: MqttClient, run: ClientRun): Promise<void> {
  const topic = `devices/${client.options.clientId}/telemetry`;
  const payload = payloadFor(client.options.clientId!);
  const stream = client.stream as NodeJS.WritableStream & { writableNeedDrain: boolean };
  let sent = 0;
  await new Promise<void>((resolve, reject) => {
    const onClose = () => reject(new Error(`${client.options.clientId}: connection closed during the window`));
    client.once('close', onClose);
    const pump = () => {
      // A bounded burst per turn, so 200 clients share the event loop.
      for (let n = 0; n < 64 && run.running() && !stream.writableNeedDrain; n++) {
        client.publish(topic, payload, { qos: 0 });
        sent++;
      }
      if (!run.running()) {
        client.off('close', onClose);
        return resolve();
      }
      if (stream.writableNeedDrain) stream.once('drain', pump);
      else setImmediate(pump);
    };
    pump();
  });
  await client.publishAsync(topic, payload, { qos: 1 }); // the end-of-window marker
  run.done(sent + 1);
}
