/**
 * The fleet simulator: `npm run simulate -- --devices 500 --sites 3 [--rollout]`.
 *
 * Registers N devices over S sites on a running Baton (admin API + token), connects each with the
 * real device SDK (its own MQTT connection, link speed, clock offset and failure mode), then
 * watches a rollout: one it creates with `--rollout`, the one named by `--job`, or the first job
 * created after it started. Prints a live progress line and a final report. `--help` lists the flags.
 */
import './threads.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { TrustedKey } from '../device-sdk/firmware/manifest.js';
import { adminApi, type AdminApi } from './api.js';
import { Fleet, planFleet, provisionFleet, type FleetSpec, type SiteSpec } from './fleet.js';
import { createRollout } from './rollout.js';
import { report, watch } from './watch.js';

const HELP = `npm run simulate -- [flags]

Baton
  --url URL                 admin API (default http://127.0.0.1:8080)
  --mqtt-url URL            MQTT (default mqtt://<host of --url>:1883)
  --token TOKEN             admin token (default $BATON_TOKEN or $BATON_ADMIN_TOKEN)
Fleet
  --devices N               devices (default 100)
  --sites N                 sites, devices spread round-robin (default 3)
  --site-uplink-kbps LIST   uplink per site, kbit/s, cycled (default 20000,10000,5000)
  --link-kbps MIN-MAX       each device's link, reported as linkKbps and paced to (default 1000-8000)
  --clock-skew-s S          device clocks off by up to ±S (default 30)
  --fail-install P          share (0-1) whose install fails (default 0)
  --drop-offline P          share that drops offline mid-download, then resumes (default 0)
  --reboot-old P            share that reboots into the old version (default 0)
  --stale P                 share that goes silent after updating (default 0)
  --prefix NAME             device ids NAME-n, tag NAME, sites NAME-site-k (default sim)
  --device-class C          (default sim-sensor)   --version V   running version (default 1.0.0)
  --install-ms, --reboot-ms, --offline-ms, --health-interval-s   device timings (500, 1000, 5000, 30)
  --seed S                  plan seed (default the prefix)
Rollout
  --job ID                  watch this job (default: the first job created after start)
  --rollout                 upload a random image and create a firmware job for the fleet:
     --image-kb K (256)  --chunk-kb K (4)  --to-version V (2.0.0)  --canary N (one per site)
     --waves P,P (10,50)  --threshold PCT (100)  --soak-s S (0)  --abort-pct PCT  --abort-min N (10)
  --timeout-s S             stop watching after S seconds
  --keep                    keep the devices running after the job finished (Ctrl-C to stop)
`;

const { values: a } = parseArgs({
  options: {
    help: { type: 'boolean' },
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    'mqtt-url': { type: 'string' },
    token: { type: 'string' },
    devices: { type: 'string', default: '100' },
    sites: { type: 'string', default: '3' },
    'site-uplink-kbps': { type: 'string', default: '20000,10000,5000' },
    'link-kbps': { type: 'string', default: '1000-8000' },
    'clock-skew-s': { type: 'string', default: '30' },
    'fail-install': { type: 'string', default: '0' },
    'drop-offline': { type: 'string', default: '0' },
    'reboot-old': { type: 'string', default: '0' },
    stale: { type: 'string', default: '0' },
    prefix: { type: 'string', default: 'sim' },
    'device-class': { type: 'string', default: 'sim-sensor' },
    version: { type: 'string', default: '1.0.0' },
    'install-ms': { type: 'string', default: '500' },
    'reboot-ms': { type: 'string', default: '1000' },
    'offline-ms': { type: 'string', default: '5000' },
    'health-interval-s': { type: 'string', default: '30' },
    seed: { type: 'string' },
    'connect-concurrency': { type: 'string', default: '50' },
    job: { type: 'string' },
    rollout: { type: 'boolean' },
    'image-kb': { type: 'string', default: '256' },
    'chunk-kb': { type: 'string', default: '4' },
    'to-version': { type: 'string', default: '2.0.0' },
    canary: { type: 'string' },
    waves: { type: 'string', default: '10,50' },
    threshold: { type: 'string', default: '100' },
    'soak-s': { type: 'string', default: '0' },
    'abort-pct': { type: 'string' },
    'abort-min': { type: 'string', default: '10' },
    'timeout-s': { type: 'string' },
    keep: { type: 'boolean' },
    dir: { type: 'string' },
  },
});

const num = (name: keyof typeof a): number => {
  const v = Number(a[name]);
  if (!Number.isFinite(v)) throw new Error(`--${name} must be a number`);
  return v;
};
const say = (line: string) => process.stdout.write(`${line}\n`);

async function trustedKeys(api: AdminApi): Promise<TrustedKey[]> {
  const { items } = await api.must<{ items: TrustedKey[] }>('GET', '/api/v1/firmware/keys');
  return items.map(({ keyId, algorithm, publicKeyPem }) => ({ keyId, algorithm, publicKeyPem }));
}

/** The first job created at or after `since` (the operator creates it while the fleet runs). */
async function awaitJob(api: AdminApi, since: number): Promise<string> {
  say('waiting for a job (create one now; see docs/rollouts.md) …');
  for (;;) {
    let cursor: string | null = null;
    let found: string | undefined;
    do {
      const page: { items: { id: string; createdAt: string }[]; nextCursor: string | null } = await api.must('GET', `/api/v1/jobs?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
      found = page.items.find((j) => Date.parse(j.createdAt) >= since)?.id ?? found;
      cursor = page.nextCursor;
    } while (cursor && !found);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function main(): Promise<void> {
  if (a.help) return void process.stdout.write(HELP);
  const token = a.token ?? process.env['BATON_TOKEN'] ?? process.env['BATON_ADMIN_TOKEN'];
  if (!token) throw new Error('an admin token is needed: --token or $BATON_TOKEN');
  const api = adminApi(a.url, token);
  const mqttUrl = a['mqtt-url'] ?? `mqtt://${new URL(a.url).hostname}:1883`;
  const prefix = a.prefix;
  const uplinks = a['site-uplink-kbps'].split(',').map(Number);
  const sites: SiteSpec[] = Array.from({ length: num('sites') }, (_, k) => ({ id: `${prefix}-site-${k + 1}`, uplinkBytesPerSec: (uplinks[k % uplinks.length]! * 1000) / 8 }));
  const [linkMin, linkMax] = a['link-kbps'].split('-').map(Number) as [number, number | undefined];
  const spec: FleetSpec = {
    devices: num('devices'),
    prefix,
    tag: prefix,
    deviceClass: a['device-class'],
    sites,
    linkKbps: { min: linkMin, max: linkMax ?? linkMin },
    clockSkewS: num('clock-skew-s'),
    failures: { 'install-fails': num('fail-install'), 'drop-offline': num('drop-offline'), 'reboot-old': num('reboot-old'), stale: num('stale') },
    seed: a.seed ?? prefix,
  };
  const dir = a.dir ?? mkdtempSync(join(tmpdir(), 'baton-sim-'));
  const started = Date.now();

  say(`registering ${spec.devices} devices over ${sites.length} sites on ${api.baseUrl} …`);
  const specs = await provisionFleet(api, spec, planFleet(spec));
  const fleet = new Fleet(specs, {
    mqttUrl,
    trustedKeys: await trustedKeys(api),
    deviceClass: spec.deviceClass,
    version: a.version,
    dir,
    installMs: num('install-ms'),
    rebootMs: num('reboot-ms'),
    offlineMs: num('offline-ms'),
    healthIntervalS: num('health-interval-s'),
  });
  say(`connecting ${spec.devices} devices to ${mqttUrl} …`);
  await fleet.start(num('connect-concurrency'));
  say(`${spec.devices} devices online in ${((Date.now() - started) / 1000).toFixed(1)} s; failure modes: ${JSON.stringify(spec.failures)}`);

  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await fleet.stop();
    if (!a.dir) rmSync(dir, { recursive: true, force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(130));
  process.on('SIGTERM', () => void shutdown(143));

  let jobId = a.job;
  if (a.rollout) {
    const canary = a.canary === undefined ? {} : { count: Number(a.canary) };
    const created = await createRollout(api, {
      jobId: `${prefix}-rollout-${Date.now().toString(36)}`,
      deviceClass: spec.deviceClass,
      tag: spec.tag,
      version: a['to-version'],
      imageBytes: num('image-kb') * 1024,
      chunkBytes: num('chunk-kb') * 1024,
      canary,
      wavePercents: a.waves ? a.waves.split(',').map(Number) : undefined,
      successThresholdPct: num('threshold'),
      soakS: num('soak-s'),
      abortPct: a['abort-pct'] === undefined ? undefined : Number(a['abort-pct']),
      abortMinExecuted: num('abort-min'),
    });
    jobId = created.jobId;
    say(`created rollout ${jobId} of firmware ${created.firmwareId}`);
  }
  jobId ??= await awaitJob(api, started);
  say(`watching ${jobId}`);
  const result = await watch({ api, jobId, fleet, sites, ...(a['timeout-s'] ? { timeoutMs: num('timeout-s') * 1000 } : {}) });
  say(await report({ api, jobId, fleet, result }));
  if (a.keep) {
    say('devices keep running; Ctrl-C to stop');
    return;
  }
  await shutdown(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`simulate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
