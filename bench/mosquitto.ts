/**
 * Mosquitto as the reference broker, configured like Baton's device-facing side so the
 * comparison is fair where it is cheap to be: every device authenticates with its own id and
 * secret (a password file) and may publish only under `devices/{its id}/` (an ACL pattern).
 * What stays different, by design: persistence is off, so Mosquitto neither stores telemetry nor
 * fsyncs before a PUBACK, which Baton does.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { onCleanup, stopChild, type BrokerUnderTest } from './brokers.js';

const sbinPaths = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto'];

function which(command: string): string | undefined {
  try {
    return execFileSync('which', [command], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The mosquitto binary, installed with apt-get when missing and we are root. */
export function ensureMosquitto(): string {
  const found = () => which('mosquitto') ?? sbinPaths.find((p) => existsSync(p));
  const existing = found();
  if (existing) return existing;
  if (process.getuid?.() !== 0 || !which('apt-get')) {
    throw new Error('mosquitto is not installed: install it (Debian/Ubuntu: sudo apt-get install -y mosquitto) and run the bench again');
  }
  process.stdout.write('mosquitto not found: installing it with apt-get…\n');
  try {
    execFileSync('apt-get', ['install', '-y', 'mosquitto'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch {
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', 'mosquitto'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  return found() ?? fail('apt-get installed mosquitto but it is not on PATH or in /usr/sbin');
}

/** A free loopback port (bound, read, released: a tiny race we accept for a bench). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function writeConfig(dir: string, port: number, devices: Array<{ id: string; secret: string }>): string {
  const passwords = join(dir, 'passwords');
  writeFileSync(passwords, devices.map((d) => `${d.id}:${d.secret}\n`).join(''), { mode: 0o600 });
  execFileSync('mosquitto_passwd', ['-U', passwords]); // hashes in place (PBKDF2-SHA512)
  const acl = join(dir, 'acl');
  writeFileSync(acl, 'pattern write devices/%u/#\n');
  const config = join(dir, 'mosquitto.conf');
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous false',
    `password_file ${passwords}`,
    `acl_file ${acl}`,
    'persistence false',
    ...commonLines(),
  ];
  writeFileSync(config, `${lines.join('\n')}\n`);
  return config;
}

function waitForPort(port: number, exited: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (exited()) return reject(new Error('mosquitto exited during start-up'));
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve()));
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`mosquitto did not listen on ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export async function startMosquitto(binary: string, dir: string, devices: Array<{ id: string; secret: string }>): Promise<BrokerUnderTest> {
  const port = await freePort();
  return spawnMosquitto(binary, writeConfig(dir, port, devices), port);
}

/**
 * The sessions bench's reference: anonymous clients, persistence on in `dir` (saved at a clean
 * shutdown, SIGTERM, and restored at start; autosave every 1,800 s by default, so a SIGKILL loses
 * what came since), otherwise Mosquitto's defaults (max_queued_messages 1000). Started again on
 * the same `dir`, it restores the sessions.
 */
export async function startMosquittoPersistent(binary: string, dir: string): Promise<BrokerUnderTest> {
  const port = await freePort();
  const config = join(dir, 'mosquitto-sessions.conf');
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence true',
    `persistence_location ${dir}/`,
    ...commonLines(),
  ];
  writeFileSync(config, `${lines.join('\n')}\n`);
  return spawnMosquitto(binary, config, port, 60_000);
}

async function spawnMosquitto(binary: string, config: string, port: number, startTimeoutMs = 10_000): Promise<BrokerUnderTest> {
  const child = spawn(binary, ['-c', config], { stdio: ['ignore', 'inherit', 'pipe'] });
  onCleanup(() => stopChild(child));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    const lines = text.split('\n').filter((l) => l && !l.includes('should not be run as root'));
    if (lines.length > 0) process.stderr.write(`mosquitto: ${lines.join('\n')}\n`);
  });
  await waitForPort(port, () => child.exitCode !== null, startTimeoutMs);
  return {
    name: 'Mosquitto',
    pid: child.pid!,
    mqttUrl: `mqtt://127.0.0.1:${port}`,
    settleMemory: async () => undefined,
    stop: () => stopChild(child),
  };
}

/** `mosquitto -h` prints "mosquitto version X" (and exits 3). */
export function mosquittoVersion(binary: string): string {
  const out = spawnSync(binary, ['-h'], { encoding: 'utf8' }).stdout ?? '';
  return /version ([\d.]+)/.exec(out)?.[1] ?? 'unknown';
}

function fail(message: string): never {
  throw new Error(message);
}

/** What every Mosquitto of the bench runs with, besides its listener, auth and persistence. */
function commonLines(): string[] {
  return [
    'set_tcp_nodelay true', // as Baton's listener does
    'connection_messages false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    // As root, mosquitto would switch to the `mosquitto` user, who cannot read our 0700 temp dir.
    ...(process.getuid?.() === 0 ? ['user root'] : []),
  ];
}
