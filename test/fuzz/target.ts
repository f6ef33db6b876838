/**
 * The broker under fuzz: `npm start`'s entry point in a child process (test/helpers/child-broker.ts),
 * so a crash shows as an exit with its output, never as a dead test worker.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChildBroker, type ChildBroker } from '../helpers/child-broker.js';
import { ADMIN_TOKEN } from '../helpers/service.js';

export interface Target {
  broker: ChildBroker;
  dataDir: string;
  ports: { mqtt: number; http: number };
  /** The child's exit code or signal once it has exited, else undefined. */
  exit(): string | undefined;
  /** Calls the admin API (admin token unless `token` is given); parses JSON bodies. */
  api<T = any>(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: T }>;
  /** GET /healthz status, or 0 if it did not answer within `timeoutMs`. */
  healthz(timeoutMs?: number): Promise<number>;
  /** Log lines at error level or above (pino JSON), e.g. `unhandled error` behind a 500. */
  errorLogs(): Array<{ msg: string; err?: { type?: string; message?: string; stack?: string }; [k: string]: unknown }>;
  /** The last `n` characters of the child's output. */
  tail(n?: number): string;
  /** SIGTERM, and the exit code (SIGKILL after `timeoutMs`, then null). */
  stop(timeoutMs?: number): Promise<number | null>;
  remove(): void;
}

export async function startTarget(env: Record<string, string> = {}): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-fuzz-'));
  // error level: warn would log every ACL denial the fuzzer provokes
  const broker = await startChildBroker(dataDir, { BATON_LOG_LEVEL: 'error', ...env });
  // never outlive the test process, whatever ends it
  const killChild = () => broker.child.kill('SIGKILL');
  process.once('exit', killChild);
  void broker.exited.then(() => process.off('exit', killChild));
  const http = `http://127.0.0.1:${broker.httpPort}`;
  return {
    broker,
    dataDir,
    ports: { mqtt: broker.mqttPort, http: broker.httpPort },
    exit: () => {
      const { exitCode, signalCode } = broker.child;
      return exitCode !== null ? `exit code ${exitCode}` : signalCode !== null ? `signal ${signalCode}` : undefined;
    },
    async api(method, path, body, token = ADMIN_TOKEN) {
      const res = await fetch(`${http}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON
      }
      return { status: res.status, body: parsed as any };
    },
    async healthz(timeoutMs = 10_000) {
      try {
        const res = await fetch(`${http}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
        await res.arrayBuffer();
        return res.status;
      } catch {
        return 0;
      }
    },
    errorLogs() {
      const out = [];
      for (const line of broker.output().split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(line);
          if (typeof entry.level === 'number' && entry.level >= 50) out.push(entry);
        } catch {
          // a partial line
        }
      }
      return out;
    },
    tail: (n = 4000) => broker.output().slice(-n),
    async stop(timeoutMs = 15_000) {
      if (broker.child.exitCode !== null || broker.child.signalCode !== null) return broker.child.exitCode;
      broker.child.kill('SIGTERM');
      const timer = setTimeout(() => broker.child.kill('SIGKILL'), timeoutMs);
      const code = await broker.exited;
      clearTimeout(timer);
      return code;
    },
    remove: () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

/** Runs a campaign against a fresh child broker, which never outlives the run, whatever happens. */
export async function withTarget<T>(campaign: (target: Target) => Promise<T>): Promise<T> {
  const target = await startTarget();
  try {
    return await campaign(target);
  } finally {
    await target.stop();
    target.remove();
  }
}
