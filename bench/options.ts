/**
 * Bench options: `--flag value` (or `--flag=value`) wins over the environment variable, which
 * wins over the default. `npm run bench -- --devices 100 --idle-devices 1000`.
 */
import { openFileLimit } from './proc.js';

export interface BenchOptions {
  /** Publishing devices in the fan-in runs. */
  devices: number;
  /** Seconds per measured fan-in window. */
  durationS: number;
  /** QoS 1 publishes awaiting PUBACK per device. */
  inflight: number;
  /** Idle connected devices in the memory run (0 skips it). */
  idleDevices: number;
  /** Also measure bare aedes (no Baton hooks) as a reference (on unless --no-aedes). */
  plainAedes: boolean;
  /** Write a V8 CPU profile of the Baton process into this directory. */
  cpuProfDir: string | undefined;
  /** Sessions bench (sessions.ts): persistent sessions restored across a restart (0 skips it). */
  sessions: number;
  /** Messages queued for each of those sessions while it is offline. */
  sessionQueued: number;
  /** Idle clients per session mode (clean: true / false) in the memory-per-session run (0 skips it). */
  sessionMemoryClients: number;
  /** Topic filters in the one large SUBSCRIBE whose event-loop stall is measured (0 skips it). */
  subscribeFilters: number;
  /** Also restart after a SIGKILL, not only after SIGTERM (on unless --no-session-kill). */
  sessionKill: boolean;
  /** Also run the restart against Mosquitto with persistence on (on unless --no-mosquitto-sessions). */
  mosquittoSessions: boolean;
}

const spec = {
  devices: { flag: '--devices', env: 'BENCH_DEVICES', default: 200 },
  durationS: { flag: '--duration', env: 'BENCH_DURATION_S', default: 5 },
  inflight: { flag: '--inflight', env: 'BENCH_INFLIGHT', default: 10 },
  idleDevices: { flag: '--idle-devices', env: 'BENCH_IDLE_DEVICES', default: 5000 },
  sessions: { flag: '--sessions', env: 'BENCH_SESSIONS', default: 10_000 },
  sessionQueued: { flag: '--session-queued', env: 'BENCH_SESSION_QUEUED', default: 10 },
  sessionMemoryClients: { flag: '--session-memory-clients', env: 'BENCH_SESSION_MEMORY_CLIENTS', default: 2000 },
  subscribeFilters: { flag: '--subscribe-filters', env: 'BENCH_SUBSCRIBE_FILTERS', default: 5000 },
} as const;

function raw(argv: string[], flag: string, env: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i]!.split('=', 2);
    if (name === flag) return inline ?? argv[i + 1];
  }
  return process.env[env] || undefined;
}

export function parseOptions(argv: string[]): BenchOptions {
  const known = new Set([...Object.values(spec).map((s) => s.flag), '--no-aedes', '--cpu-prof', '--no-session-kill', '--no-mosquitto-sessions']);
  const unknown = argv.filter((a) => a.startsWith('--') && !known.has(a.split('=')[0]!));
  if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(', ')}; known: ${[...known].join(' ')}`);
  const numbers = Object.fromEntries(
    Object.entries(spec).map(([key, s]) => {
      const value = Number(raw(argv, s.flag, s.env) ?? s.default);
      if (!Number.isFinite(value) || value < 0) throw new Error(`${s.flag} (${s.env}) must be a non-negative number`);
      return [key, value];
    }),
  ) as Record<keyof typeof spec, number>;
  return {
    ...numbers,
    plainAedes: !argv.includes('--no-aedes') && process.env.BENCH_PLAIN_AEDES !== '0',
    cpuProfDir: raw(argv, '--cpu-prof', 'BENCH_CPU_PROF'),
    sessionKill: !argv.includes('--no-session-kill') && process.env.BENCH_SESSION_KILL !== '0',
    mosquittoSessions: !argv.includes('--no-mosquitto-sessions') && process.env.BENCH_MOSQUITTO_SESSIONS !== '0',
  };
}

/**
 * Every connection costs the load client one descriptor and the broker one; both inherit our
 * soft limit. Lowers the device counts (with a warning) to what it allows.
 */
export function fitToFileLimit(options: BenchOptions, warn: (message: string) => void): BenchOptions {
  const limit = openFileLimit();
  const spare = 200; // the runtime, SQLite, HTTP, pipes
  const fit = (n: number, what: string) => {
    if (n + spare <= limit) return n;
    const lowered = Math.max(0, limit - spare);
    warn(`open-file limit is ${limit} (ulimit -n): lowering ${what} from ${n} to ${lowered}; raise it with \`ulimit -n ${n + spare}\``);
    return lowered;
  };
  return {
    ...options,
    devices: fit(options.devices, 'devices'),
    idleDevices: fit(options.idleDevices, 'idle devices'),
    sessions: fit(options.sessions, 'persistent sessions'),
    sessionMemoryClients: fit(options.sessionMemoryClients, 'session memory clients'),
  };
}
