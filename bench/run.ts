/**
 * `npm run bench`: Baton against Mosquitto, measured in the same run with the same load client.
 *
 * 1. Registers the devices through Baton's admin API, then restarts Baton so both brokers start
 *    the measurements as fresh processes.
 * 2. Memory: RSS per idle connected device (fresh heaps, before any load).
 * 3. Fan-in: every device publishes telemetry at QoS 0, then at QoS 1, for the window; the
 *    broker's CPU time comes from /proc/<pid>/stat.
 * 4. Prints a Markdown table, the Baton/Mosquitto ratios and the targets.
 * 5. Sessions (sessions.ts): a restart with persistent sessions holding queued messages, memory
 *    per persistent session, the event-loop stall of one large SUBSCRIBE. `--devices 0
 *    --idle-devices 0` runs only these; `--sessions 0 --session-memory-clients 0
 *    --subscribe-filters 0` skips them.
 *
 * Options (flag or environment): see options.ts. TMPDIR picks the filesystem of Baton's data dir.
 *
 * `npm run bench -- rollouts [flags]` runs the rollout figures instead: the scheduler and
 * production's pacing on a simulated clock (bench/rollouts-sim.ts, 100,000 devices), then a real
 * rollout on loopback (bench/rollouts-real.ts, 10,000 SDK devices); flags go to the real run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup, runCleanups, startBatonChild, type BrokerUnderTest } from './brokers.js';
import { registerDevices } from './load-client.js';
import { ensureMosquitto, mosquittoVersion, startMosquitto } from './mosquitto.js';
import { fitToFileLimit, parseOptions, type BenchOptions } from './options.js';
import { machineBusySeconds } from './proc.js';
import { measureFanIn, measureIdleMemory } from './phases.js';
import { machineLine, renderReport, type BrokerResult } from './report.js';
import { renderSessionsReport, runSessionPhases } from './sessions.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

function filesystemOf(path: string): string {
  try {
    return execFileSync('df', ['--output=fstype', path], { encoding: 'utf8' }).split('\n')[1]?.trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

async function startBrokers(options: BenchOptions, root: string) {
  const batonDir = join(root, 'baton');
  const mosquittoDir = join(root, 'mosquitto');
  mkdirSync(batonDir);
  mkdirSync(mosquittoDir);
  const binary = ensureMosquitto();

  const count = Math.max(options.devices, options.idleDevices);
  log(`registering ${count} devices through the admin API (50 at a time)…`);
  const registrar = await startBatonChild({ name: 'Baton', args: ['--data-dir', batonDir] });
  const started = performance.now();
  const ids = Array.from({ length: count }, (_, i) => `bench-${String(i).padStart(5, '0')}`);
  const devices = await registerDevices(registrar.httpUrl, registrar.adminToken, ids, 50);
  log(`  ${count} devices in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await registrar.stop();

  // BENCH_NODE_FLAGS passes extra flags to the Baton process (e.g. --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=/tmp).
  const extra = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const profile = [...extra, ...(options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [])];
  const brokers: BrokerUnderTest[] = [await startBatonChild({ name: 'Baton', args: ['--data-dir', batonDir], nodeFlags: profile })];
  brokers.push(await startMosquitto(binary, mosquittoDir, devices));
  if (options.plainAedes) brokers.push(await startBatonChild({ name: 'aedes (bare)', args: ['--plain-aedes'] }));
  log(`brokers: ${brokers.map((b) => `${b.name} (pid ${b.pid})`).join(', ')}`);
  return { brokers, devices, version: mosquittoVersion(binary), batonDir };
}

/** Load and broker share the cores, so anything else running skews the figures: say so up front. */
async function warnIfBusy(): Promise<void> {
  const busy0 = machineBusySeconds();
  await new Promise((r) => setTimeout(r, 1000));
  const cores = machineBusySeconds() - busy0;
  if (cores > 0.15) log(`warning: other processes are using ${cores.toFixed(2)} cores right now; the figures will be low and noisy`);
}

async function main(): Promise<void> {
  const options = fitToFileLimit(parseOptions(process.argv.slice(2)), (m) => log(`warning: ${m}`));
  await warnIfBusy();
  const root = mkdtempSync(join(tmpdir(), 'baton-bench-'));
  onCleanup(() => rmSync(root, { recursive: true, force: true }));
  const foundation = options.devices > 0 || options.idleDevices > 0;
  if (foundation) {
    const report = await runFoundation(options, root);
    log('');
    log(report);
    log('');
  }
  if (options.sessions > 0 || options.sessionMemoryClients > 0 || options.subscribeFilters > 0) {
    const sessions = await runSessionPhases(root, options, log);
    log('');
    if (!foundation) log(`Machine: ${machineLine(mosquittoVersion(ensureMosquitto()))}\n`);
    log(renderSessionsReport(sessions, options));
  }
  if (options.cpuProfDir) log(`\nBaton CPU profiles (CPU.<date>.<pid>.…) written to ${options.cpuProfDir}: npx tsx bench/profile-summary.ts <file>`);
}

/** Steps 1–4: fan-in and idle memory, Baton vs Mosquitto (vs bare aedes); returns the report. */
async function runFoundation(options: BenchOptions, root: string): Promise<string> {
  const { brokers, devices, version, batonDir } = await startBrokers(options, root);
  const results: BrokerResult[] = brokers.map((b) => ({ name: b.name }));

  if (options.idleDevices > 0) {
    log(`memory: ${options.idleDevices} idle devices per broker…`);
    for (const [i, broker] of brokers.entries()) {
      results[i]!.memory = await measureIdleMemory(broker, devices.slice(0, options.idleDevices), log);
    }
  }
  if (options.devices > 0 && options.durationS > 0) {
    log(`fan-in: ${options.devices} devices, ${options.durationS} s per window…`);
    for (const [i, broker] of brokers.entries()) {
      results[i]!.fanIn = await measureFanIn(broker, devices.slice(0, options.devices), { ...options, log });
    }
  }
  for (const broker of brokers) await broker.stop(); // lets --cpu-prof write its profile

  const dataDirNote =
    `Baton stores every message and fsyncs each group commit before its PUBACKs; its data dir is on ${filesystemOf(batonDir)} (${root}).\n` +
    'Mosquitto: a password file (every device its own user) and an ACL pattern like Baton\'s, TCP_NODELAY, persistence off.';
  return renderReport(results, options, { machine: machineLine(version), dataDirNote });
}

/** Cleans up once, however many ways the run ends at the same time (a signal, then the failure it causes). */
let exiting: Promise<never> | undefined;
function exit(code: number): Promise<never> {
  exiting ??= runCleanups().then(() => process.exit(code));
  return exiting;
}

/** `npm run bench -- rollouts`: each part in a process of its own (tsx), its output passed through. */
function runRollouts(args: string[]): number {
  const parts: [string, string[]][] = [['bench/rollouts-sim.ts', []], ['bench/rollouts-real.ts', args]];
  let failed = 0;
  for (const [file, extra] of parts) {
    log(`\n## ${file}\n`);
    const run = spawnSync(process.execPath, ['--import', 'tsx', file, ...extra], { stdio: 'inherit', cwd: fileURLToPath(new URL('..', import.meta.url)) });
    if (run.status !== 0) failed++;
  }
  return failed === 0 ? 0 : 1;
}

if (process.argv[2] === 'rollouts') process.exit(runRollouts(process.argv.slice(3)));

process.on('SIGINT', () => void exit(130));
process.on('SIGTERM', () => void exit(143));
main().then(
  () => exit(0),
  (err: unknown) => {
    if (!exiting) process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    return exit(1);
  },
);
