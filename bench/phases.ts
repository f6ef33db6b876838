/**
 * The two measurements, each run the same way against every broker: fan-in throughput with the
 * broker's CPU time per message, and RSS per idle connected device.
 */
import type { MqttClient } from 'mqtt';
import type { BrokerUnderTest } from './brokers.js';
import { connectDevices, disconnectAll, fanIn, type Device, type WindowResult } from './load-client.js';
import { storeFigures, type StoreFigures } from './baton-metrics.js';
import { cpuMeter, machineBusySeconds, rssKiB } from './proc.js';
import { percentile } from './stats.js';

export interface FanInFigures {
  msgPerS: number;
  /** Broker CPU time (user + system, all threads) per message. */
  cpuUsPerMsg: number;
  /** Share of one core the broker used in the window. */
  brokerCores: number;
  /** Share of one core the load client used: near 1.0 means the client, not the broker, was the limit. */
  clientCores: number;
  /** Share of one core everything else on the machine used: other work skews the figures. */
  otherCores: number;
  p50Ms: number;
  p99Ms: number;
  /** Baton only: its group commits in the window. */
  store: StoreFigures | undefined;
}

export interface FanInResult {
  qos0: FanInFigures;
  qos1: FanInFigures;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function window(broker: BrokerUnderTest, clients: MqttClient[], qos: 0 | 1, durationMs: number, inflight: number): Promise<FanInFigures> {
  const store0 = await broker.storeCounters?.();
  const busy0 = machineBusySeconds();
  const brokerCpu = cpuMeter(broker.pid);
  const r: WindowResult = await fanIn(clients, { qos, durationMs, inflight });
  const cpuS = brokerCpu();
  const busyS = machineBusySeconds() - busy0;
  return {
    msgPerS: r.messages / r.elapsedS,
    cpuUsPerMsg: (cpuS / r.messages) * 1e6,
    brokerCores: cpuS / r.elapsedS,
    clientCores: r.clientCpuS / r.elapsedS,
    otherCores: Math.max(0, busyS - cpuS - r.clientCpuS) / r.elapsedS,
    p50Ms: percentile(r.latenciesMs, 50),
    p99Ms: percentile(r.latenciesMs, 99),
    store: store0 && broker.storeCounters ? storeFigures(store0, await broker.storeCounters(), r.elapsedS) : undefined,
  };
}

export async function measureFanIn(
  broker: BrokerUnderTest,
  devices: readonly Device[],
  opts: { durationS: number; inflight: number; log: (line: string) => void },
): Promise<FanInResult> {
  const clients = await connectDevices(broker.mqttUrl, devices);
  try {
    await fanIn(clients, { qos: 1, durationMs: 1000, inflight: opts.inflight }); // JIT and buffers warm-up
    await sleep(500);
    const qos0 = await window(broker, clients, 0, opts.durationS * 1000, opts.inflight);
    opts.log(`  ${broker.name} QoS 0: ${Math.round(qos0.msgPerS)} msg/s`);
    await sleep(500);
    const qos1 = await window(broker, clients, 1, opts.durationS * 1000, opts.inflight);
    opts.log(`  ${broker.name} QoS 1: ${Math.round(qos1.msgPerS)} msg/s, p99 ${qos1.p99Ms.toFixed(1)} ms`);
    return { qos0, qos1 };
  } finally {
    await disconnectAll(clients);
  }
}

export interface MemoryResult {
  devices: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  /** (RSS with all devices − RSS before) / devices: the figure the target is about. */
  kibPerDevice: number;
  /** Node brokers: live V8 heap growth per device (after a full GC)… */
  heapUsedKiBPerDevice: number | undefined;
  /** …and growth of what V8 holds for its heap, used or not; RSS growth beyond it is native memory. */
  heapCommittedKiBPerDevice: number | undefined;
}

export interface MemoryReading {
  rss: number;
  heapUsed: number | undefined;
  heapCommitted: number | undefined;
}

/**
 * Memory after things settle: three rounds of (full GC where there is one, pause, read), keeping
 * the lowest RSS, because V8 hands freed pages back to the OS lazily.
 */
export async function reading(broker: BrokerUnderTest): Promise<MemoryReading> {
  await sleep(1000); // connection-log commits, presence events, socket buffers settle
  let best: MemoryReading | undefined;
  for (let round = 0; round < 3; round++) {
    const heap = await broker.settleMemory();
    await sleep(400);
    const rss = rssKiB(broker.pid);
    if (!best || rss < best.rss) best = { rss, heapUsed: heap?.memory.heapUsed, heapCommitted: heap?.heapCommitted };
  }
  return best!;
}

const perDevice = (a: number | undefined, b: number | undefined, n: number, unit = 1024) =>
  a === undefined || b === undefined ? undefined : (b - a) / unit / n;

/**
 * RSS before and after connecting `devices` idle clients (each reading after a settle and, in
 * Node, a full GC). RSS of a Node process moves with V8's heap sizing by a few KiB per device
 * from run to run; the live-heap figure beside it is the steadier one.
 */
export async function measureIdleMemory(broker: BrokerUnderTest, devices: readonly Device[], log: (line: string) => void): Promise<MemoryResult> {
  // A short connect/disconnect cycle first, so the baseline already holds what the first
  // connections load or compile once (lazily loaded modules, JIT code, pools), not per device.
  await disconnectAll(await connectDevices(broker.mqttUrl, devices.slice(0, Math.min(200, devices.length))));
  const before = await reading(broker);
  const started = performance.now();
  const clients = await connectDevices(broker.mqttUrl, devices);
  log(`  ${broker.name}: ${devices.length} devices connected in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  try {
    const after = await reading(broker);
    return {
      devices: devices.length,
      rssBeforeKiB: before.rss,
      rssAfterKiB: after.rss,
      kibPerDevice: (after.rss - before.rss) / devices.length,
      heapUsedKiBPerDevice: perDevice(before.heapUsed, after.heapUsed, devices.length),
      heapCommittedKiBPerDevice: perDevice(before.heapCommitted, after.heapCommitted, devices.length),
    };
  } finally {
    await disconnectAll(clients);
  }
}
