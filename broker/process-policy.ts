/**
 * What the process does with errors nothing else handled. Installed by the entry point (main.ts)
 * only: tests build many services in one process and keep the test runner's own handlers.
 *
 * An unhandled promise rejection comes from fire-and-forget work (a presence event published, a
 * connection logged, a feature's hook): Node's default would end the process and drop every
 * device. Baton logs it with its stack, counts it (`baton_unhandled_rejections_total`) and keeps
 * serving; the metric is what to alert on. Uncaught exceptions keep Node's default (exit): the
 * state after a synchronous throw is unknown.
 */
import type { Logger } from 'pino';

interface Counter {
  inc(): void;
}

interface ProcessLike {
  on(event: 'unhandledRejection', listener: (reason: unknown, promise: Promise<unknown>) => void): unknown;
  off(event: 'unhandledRejection', listener: (reason: unknown, promise: Promise<unknown>) => void): unknown;
}

/** Installs the policy on `target` (the process); returns a function that removes it. */
export function installRejectionPolicy(target: ProcessLike, log: Logger, counter: Counter): () => void {
  let count = 0;
  const onRejection = (reason: unknown) => {
    count += 1;
    counter.inc();
    const context = reason instanceof Error ? { err: reason } : { reason: describe(reason) };
    log.error({ ...context, event: 'unhandledRejection', count }, 'unhandled promise rejection; still serving');
  };
  target.on('unhandledRejection', onRejection);
  return () => target.off('unhandledRejection', onRejection);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
