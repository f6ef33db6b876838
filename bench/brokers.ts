/**
 * The brokers under test, each a child process with one small interface, and the cleanup list
 * that stops them (and removes temp dirs) whatever way the bench ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { MemoryReply, ServerCommand, ServerReady } from './baton-server.js';
import { storeCounters, type StoreCounters } from './baton-metrics.js';

export interface BrokerUnderTest {
  name: string;
  pid: number;
  mqttUrl: string;
  /** A full GC before a memory reading, where the broker has one (Node): its heap figures after. */
  settleMemory(): Promise<MemoryReply | undefined>;
  /** Baton only: its group-commit counters, read from /metrics. */
  storeCounters?: () => Promise<StoreCounters>;
  stop(): Promise<void>;
}

const cleanups: Array<() => Promise<void> | void> = [];

/** Registers a teardown step; steps run in reverse order of registration. */
export function onCleanup(step: () => Promise<void> | void): void {
  cleanups.push(step);
}

export async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (err) {
      process.stderr.write(`cleanup: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
}

/** Resolves when `child` exits; SIGKILLs it if `signal` did not stop it within `graceMs`. */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

export interface BatonChild extends BrokerUnderTest {
  httpUrl: string;
  adminToken: string;
  /**
   * Ends the process with `signal` (SIGKILL: a crash, nothing flushed), SIGKILL after `graceMs`;
   * resolves on exit with how it ended.
   */
  kill(signal: NodeJS.Signals, graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts bench/baton-server.ts as `node --import tsx …` (not the `tsx` CLI, which would put a
 * wrapper process between us and the broker and hide its pid). `nodeFlags` adds e.g. --cpu-prof.
 */
export async function startBatonChild(opts: { name: string; args: string[]; nodeFlags?: string[] }): Promise<BatonChild> {
  const script = fileURLToPath(new URL('./baton-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', ...(opts.nodeFlags ?? []), script, ...opts.args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  onCleanup(() => stopChild(child));
  const ready = await new Promise<ServerReady>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${opts.name} did not start within 60 s`)), 60_000);
    child.once('exit', (code) => reject(new Error(`${opts.name} exited during start-up (code ${code})`)));
    child.once('message', (msg: ServerReady) => {
      clearTimeout(timer);
      resolve(msg);
    });
  });
  const send = (cmd: ServerCommand) => child.send(cmd);
  return {
    name: opts.name,
    pid: child.pid!,
    mqttUrl: `mqtt://127.0.0.1:${ready.mqttPort}`,
    httpUrl: `http://127.0.0.1:${ready.httpPort}`,
    adminToken: ready.adminToken,
    ...(ready.httpPort > 0 ? { storeCounters: () => storeCounters(`http://127.0.0.1:${ready.httpPort}`) } : {}),
    settleMemory: () =>
      new Promise((resolve) => {
        child.once('message', (msg: MemoryReply) => resolve(msg));
        send({ cmd: 'gc' });
      }),
    async stop() {
      if (child.connected) send({ cmd: 'stop' });
      await stopChild(child);
    },
    kill: async (signal, graceMs = 120_000) => {
      await stopChild(child, signal, graceMs);
      return { code: child.exitCode, signal: child.signalCode };
    },
  };
}
