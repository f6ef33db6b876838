/**
 * The broker under test, in a process of its own so the bench can read its CPU time and RSS from
 * /proc/<pid> apart from the load client's. Started by run.ts over an IPC channel:
 *
 *   node --import tsx [--expose-gc] bench/baton-server.ts --data-dir <dir>   Baton (buildService)
 *   node --import tsx [--expose-gc] bench/baton-server.ts --plain-aedes      bare aedes, no hooks
 *   … bench/baton-server.ts --data-dir <dir> -- --allow-anonymous true        Baton flags after `--`
 *
 * `--plain-aedes` is the reference: the same aedes with no authentication, ACL, metrics, store or
 * presence, so the difference to Baton is what our hooks cost.
 *
 * Messages to the parent: `{ ready, mqttPort, httpPort, adminToken }`; replies to `{ cmd: 'gc' }`
 * with a MemoryReply (after a full GC when run with --expose-gc). `{ cmd: 'stop' }`, SIGTERM, or
 * the parent going away closes the broker and exits.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { getHeapSpaceStatistics } from 'node:v8';
import { Aedes } from 'aedes';
import { parseConfig, readRawConfig } from '../broker/config.js';
import { buildService } from '../broker/service.js';

export interface ServerReady {
  ready: true;
  mqttPort: number;
  httpPort: number;
  adminToken: string;
}

export type ServerCommand = { cmd: 'gc' } | { cmd: 'stop' };

export interface MemoryReply {
  memory: NodeJS.MemoryUsage;
  /** Bytes V8 holds for its heap (all spaces, used or not): RSS minus this is outside the JS heap. */
  heapCommitted: number;
}

const committedHeap = () => getHeapSpaceStatistics().reduce((sum, s) => sum + s.physical_space_size, 0);

interface Running {
  ports: { mqttPort: number; httpPort: number };
  adminToken: string;
  close(): Promise<void>;
}

async function startBaton(dataDir: string, batonFlags: string[]): Promise<Running> {
  const adminToken = randomBytes(32).toString('base64url');
  // Baton's own flags (README: configuration) after `--`, e.g. `--allow-anonymous true`; the
  // environment is not read, so a BATON_* variable in the bench's shell changes nothing.
  const extra = readRawConfig({}, batonFlags);
  const config = parseConfig({ ...extra, dataDir, host: '127.0.0.1', mqttPort: 0, httpPort: 0, mqttsPort: 0, adminToken, logLevel: 'warn' });
  const service = await buildService(config);
  const ports = await service.listen();
  return { ports, adminToken, close: () => service.close() };
}

async function startPlainAedes(): Promise<Running> {
  const aedes = await Aedes.createBroker();
  const server = createServer((socket) => {
    socket.setNoDelay(true); // as Baton's tcpListener does
    aedes.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    ports: { mqttPort: (server.address() as AddressInfo).port, httpPort: 0 },
    adminToken: '',
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const separator = process.argv.indexOf('--');
const ownArgs = separator >= 0 ? process.argv.slice(0, separator) : process.argv;
const batonFlags = separator >= 0 ? process.argv.slice(separator + 1) : [];

function argValue(name: string): string | undefined {
  const i = ownArgs.indexOf(name);
  return i >= 0 ? ownArgs[i + 1] : undefined;
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('baton-server.ts is started by bench/run.ts over an IPC channel');
  const dataDir = argValue('--data-dir');
  const running = ownArgs.includes('--plain-aedes')
    ? await startPlainAedes()
    : await startBaton(dataDir ?? fail('--data-dir is required'), batonFlags);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // process.exit (not a kill) lets --cpu-prof write its profile.
    running.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
  process.on('message', (msg: ServerCommand) => {
    if (msg.cmd === 'stop') return stop();
    globalThis.gc?.();
    const reply: MemoryReply = { memory: process.memoryUsage(), heapCommitted: committedHeap() };
    process.send!(reply);
  });
  const ready: ServerReady = { ready: true, ...running.ports, adminToken: running.adminToken };
  process.send(ready);
}

function fail(message: string): never {
  throw new Error(message);
}

main().catch((err: unknown) => {
  process.stderr.write(`baton-server: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
