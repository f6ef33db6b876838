/**
 * `npx tsx bench/jobs.ts [--devices 10000] [--connected 1000] [--rounds 5]`: job fan-out.
 *
 * Baton runs in a child process (bench/baton-server.ts) with its real SQLite store. The bench
 * registers `devices` devices and connects `connected` of them as raw mqtt.js clients speaking the
 * jobs protocol. Each round creates one custom job for every registered device (`query: {}`,
 * paced at 1,000,000 a minute so admission is not the limit) and measures:
 * - creating the job: `POST /api/v1/jobs` until every execution is stored (and admitted);
 * - notify-next: from the POST to each connected device's notification;
 * - execution updates: every connected device does start-next → IN_PROGRESS (progress) →
 *   SUCCEEDED, each a request answered on `…/accepted`; updates per second over the phase and
 *   the p50/p99 request latency. Target: ≥ 1,000 execution updates per second.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { topics } from '../device-sdk/protocol/topics.js';
import { onCleanup, runCleanups, startBatonChild } from './brokers.js';
import { pool } from '../simulator/fleet.js';
import { connectDevices, disconnectAll, registerDevices, type Device } from './load-client.js';
import { cpuMeter } from './proc.js';
import { fmt, percentile, Samples } from './stats.js';

const log = (line: string) => process.stdout.write(`${line}\n`);
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};

/** A device speaking the jobs protocol: requests matched by clientToken, notify-next per job. */
function jobsPeer(client: MqttClient, id: string) {
  const replies = new Map<string, (outcome: string) => void>();
  const notified = new Map<string, (at: number) => void>();
  let n = 0;
  client.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString());
    if (topic.endsWith('/notify-next')) return void (body.execution && notified.get(body.execution.jobId)?.(performance.now()));
    replies.get(body.clientToken)?.(topic.endsWith('/accepted') ? 'accepted' : `rejected ${body.code}`);
  });
  return {
    whenNotified: (jobId: string) => new Promise<number>((resolve) => notified.set(jobId, resolve)),
    async request(op: string, body: object, latency: Samples): Promise<void> {
      const clientToken = `${id}-${++n}`;
      const started = performance.now();
      const outcome = await new Promise<string>((resolve) => {
        replies.set(clientToken, resolve);
        client.publish(topics.jobs(id, op), JSON.stringify({ ...body, clientToken }), { qos: 1 });
      });
      replies.delete(clientToken);
      latency.push(performance.now() - started);
      if (outcome !== 'accepted') throw new Error(`${id} ${op}: ${outcome}`);
    },
  };
}

async function round(httpUrl: string, token: string, peers: ReturnType<typeof jobsPeer>[], jobId: string) {
  const notifications = peers.map((p) => p.whenNotified(jobId));
  const t0 = performance.now();
  const res = await fetch(`${httpUrl}/api/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: jobId, type: 'custom', document: { op: 'bench' }, targets: { query: {} }, rollout: { maxPerMinute: 1_000_000 } }),
  });
  const createMs = performance.now() - t0;
  if (res.status !== 201) throw new Error(`create: ${res.status} ${await res.text()}`);
  const arrivals = (await Promise.all(notifications)).map((at) => at - t0);
  const latency = new Samples();
  const u0 = performance.now();
  await Promise.all(peers.map(async (p) => {
    await p.request('start-next', { stepTimeoutS: 300 }, latency);
    await p.request(`${jobId}/update`, { status: 'IN_PROGRESS', progress: { percent: 50 } }, latency);
    await p.request(`${jobId}/update`, { status: 'SUCCEEDED' }, latency);
  }));
  const updatesS = (performance.now() - u0) / 1000;
  return { createMs, arrivals, latency: latency.values(), updates: peers.length * 3, updatesS };
}

async function main(): Promise<void> {
  const total = arg('devices', 10_000);
  const connected = arg('connected', 1000);
  const rounds = arg('rounds', 5);
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-jobs-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const baton = await startBatonChild({ name: 'Baton', args: ['--data-dir', dir] });
  log(`registering ${total} devices…`);
  const ids = Array.from({ length: total }, (_, i) => `bench-${String(i).padStart(5, '0')}`);
  const devices: Device[] = await registerDevices(baton.httpUrl, baton.adminToken, ids, 50);
  log(`connecting ${connected}…`);
  const clients = await connectDevices(baton.mqttUrl, devices.slice(0, connected));
  onCleanup(() => disconnectAll(clients));
  await pool(clients, 100, (c, i) => c.subscribeAsync(`devices/${devices[i]!.id}/jobs/#`, { qos: 1 }));
  const peers = clients.map((c, i) => jobsPeer(c, devices[i]!.id));

  const cpu = cpuMeter(baton.pid);
  log(`| round | create (ms) | notify p50 / p99 (ms) | notify-next delivered (/s) | updates/s | update p50 / p99 (ms) |`);
  log('|---|---|---|---|---|---|');
  const all = new Samples();
  let updates = 0;
  let updateSeconds = 0;
  for (let r = 1; r <= rounds; r++) {
    const result = await round(baton.httpUrl, baton.adminToken, peers, `bench-job-${r}`);
    const arrivals = Float64Array.from(result.arrivals);
    // Notifications go out once the job is stored: the rate counts from the POST's reply.
    const spanS = (Math.max(...result.arrivals) - result.createMs) / 1000;
    for (const v of result.latency) all.push(v);
    updates += result.updates;
    updateSeconds += result.updatesS;
    log(`| ${r} | ${fmt(result.createMs)} | ${fmt(percentile(arrivals, 50))} / ${fmt(percentile(arrivals, 99))} | ${fmt(connected / spanS)} | ` +
      `${fmt(result.updates / result.updatesS)} | ${fmt(percentile(result.latency, 50), 1)} / ${fmt(percentile(result.latency, 99), 1)} |`);
  }
  log(`\nexecution updates: ${fmt(updates / updateSeconds)}/s over ${rounds} rounds (target ≥ 1,000), ` +
    `p50 ${fmt(percentile(all.values(), 50), 1)} ms, p99 ${fmt(percentile(all.values(), 99), 1)} ms; broker CPU ${fmt(cpu(), 1)} s`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => runCleanups());
