/**
 * The device side of `bench/shadows.ts`: devices on their own mqtt.js connections, subscribed to
 * `devices/{id}/shadow/#` as the SDK does, sending `update` and timing `update/accepted`; and
 * operator PATCHes timed to the device's `update/delta`.
 *
 * Replies to one shadow come back in request order (the broker serializes them), so each device
 * keeps a FIFO of send times and never parses a reply to correlate it.
 */
import type { MqttClient } from 'mqtt';
import { topics } from '../device-sdk/protocol/topics.js';
import { Samples } from './stats.js';

export interface ShadowLoadDevice {
  id: string;
  client: MqttClient;
  /** Send times (performance.now()) of updates awaiting their reply, oldest first. */
  pending: number[];
  seq: number;
  /** Send times of the PATCHes whose deltas this device awaits, oldest first. */
  patches: number[];
}

export interface LoadWindow {
  accepted: number;
  rejected: number;
  elapsedS: number;
  latenciesMs: Float64Array;
}

/** `promise`, or a rejection if it has not settled within `ms` (a lost reply must not hang the bench). */
function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} still missing after ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

type Listener = { reply(device: ShadowLoadDevice, accepted: boolean): void; delta(device: ShadowLoadDevice): void };

/** Subscribes each client to its shadow topics and routes replies to the current listener. */
export async function prepareDevices(clients: MqttClient[]): Promise<{ devices: ShadowLoadDevice[]; listen(l: Listener): void }> {
  let listener: Listener = { reply: () => undefined, delta: () => undefined };
  const devices = await Promise.all(clients.map(async (client) => {
    const id = client.options.clientId!;
    const device: ShadowLoadDevice = { id, client, pending: [], seq: 0, patches: [] };
    const accepted = topics.shadow(id, undefined, 'update/accepted');
    const rejected = topics.shadow(id, undefined, 'update/rejected');
    const delta = topics.shadow(id, undefined, 'update/delta');
    client.on('message', (topic) => {
      if (topic === accepted || topic === rejected) listener.reply(device, topic === accepted);
      else if (topic === delta) listener.delta(device);
    });
    await client.subscribeAsync(topics.shadowReplies(id), { qos: 1 });
    return device;
  }));
  return { devices, listen: (l) => (listener = l) };
}

/** A small report: a counter and a temperature, as a sensor sends. */
function sendUpdate(device: ShadowLoadDevice): void {
  device.seq += 1;
  device.pending.push(performance.now());
  const payload = `{"state":{"reported":{"seq":${device.seq},"temp":${(20 + (device.seq % 50) / 10).toFixed(1)}}}}`;
  device.client.publish(topics.shadow(device.id, undefined, 'update'), payload, { qos: 1 });
}

function windowRecorder(listen: (l: Listener) => void, onReply?: (device: ShadowLoadDevice) => void) {
  const latencies = new Samples();
  let accepted = 0;
  let rejected = 0;
  let outstanding = 0;
  let drained: () => void = () => undefined;
  listen({
    reply(device, ok) {
      const sentAt = device.pending.shift();
      if (sentAt === undefined) return;
      outstanding -= 1;
      if (ok) {
        accepted += 1;
        latencies.push(performance.now() - sentAt);
      } else rejected += 1;
      onReply?.(device);
      if (outstanding === 0) drained();
    },
    delta: () => undefined,
  });
  return {
    send(device: ShadowLoadDevice) {
      outstanding += 1;
      sendUpdate(device);
    },
    drain: () => deadline(outstanding === 0 ? Promise.resolve() : new Promise<void>((resolve) => (drained = resolve)), 60_000, 'replies'),
    result: (elapsedS: number): LoadWindow => ({ accepted, rejected, elapsedS, latenciesMs: latencies.values() }),
  };
}

/** Closed loop: every device keeps `inflight` updates outstanding for `durationMs` (saturation). */
export async function saturate(devices: ShadowLoadDevice[], listen: (l: Listener) => void, durationMs: number, inflight: number): Promise<LoadWindow> {
  let running = true;
  const rec = windowRecorder(listen, (device) => running && rec.send(device));
  const t0 = performance.now();
  for (const d of devices) for (let i = 0; i < inflight; i++) rec.send(d);
  await new Promise((r) => setTimeout(r, durationMs));
  running = false;
  await rec.drain();
  return rec.result((performance.now() - t0) / 1000);
}

/** Open loop: `rate` updates per second spread round-robin over the devices, for `durationMs`. */
export async function paced(devices: ShadowLoadDevice[], listen: (l: Listener) => void, durationMs: number, rate: number): Promise<LoadWindow> {
  const rec = windowRecorder(listen);
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < durationMs) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    for (; sent < due; sent++) rec.send(devices[sent % devices.length]!);
    await new Promise((r) => setTimeout(r, 1));
  }
  await rec.drain();
  return rec.result((performance.now() - t0) / 1000);
}

/** `rate` operator PATCHes per second of desired state, each timed until its device gets the delta. */
export async function patchToDelta(
  devices: ShadowLoadDevice[], listen: (l: Listener) => void, api: { httpUrl: string; token: string }, count: number, rate: number,
): Promise<Float64Array> {
  const latencies = new Samples();
  let received = 0;
  let done: () => void = () => undefined;
  listen({
    reply: () => undefined,
    delta(device) {
      const sentAt = device.patches.shift();
      if (sentAt === undefined) return;
      latencies.push(performance.now() - sentAt);
      if (++received === count) done();
    },
  });
  const all = new Promise<void>((resolve) => (done = resolve));
  const requests: Array<Promise<unknown>> = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const device = devices[i % devices.length]!;
    device.patches.push(performance.now());
    requests.push(fetch(`${api.httpUrl}/api/v1/devices/${device.id}/shadow`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ state: { desired: { target: i } } }),
    }).then((res) => res.arrayBuffer()));
  }
  await Promise.all([...requests, deadline(all, 60_000, 'deltas')]);
  return latencies.values();
}

/** The broker's group-commit counters (from /metrics): commits, writes, commit time, slow commits. */
export interface CommitStats {
  commits: number;
  writes: number;
  commitS: number;
  /** Commits slower than 10 ms and 20 ms. */
  over10ms: number;
  over20ms: number;
}

export async function commitStats(httpUrl: string): Promise<CommitStats> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const value = (pattern: RegExp) => Number(text.match(pattern)?.[1] ?? Number.NaN);
  const commits = value(/^baton_store_commit_seconds_count (\S+)$/m);
  return {
    commits,
    writes: value(/^baton_store_batch_size_sum (\S+)$/m),
    commitS: value(/^baton_store_commit_seconds_sum (\S+)$/m),
    over10ms: commits - value(/^baton_store_commit_seconds_bucket\{le="0.01"\} (\S+)$/m),
    over20ms: commits - value(/^baton_store_commit_seconds_bucket\{le="0.02"\} (\S+)$/m),
  };
}

export const commitDiff = (a: CommitStats, b: CommitStats): CommitStats => ({
  commits: b.commits - a.commits,
  writes: b.writes - a.writes,
  commitS: b.commitS - a.commitS,
  over10ms: b.over10ms - a.over10ms,
  over20ms: b.over20ms - a.over20ms,
});
