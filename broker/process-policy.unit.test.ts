import { EventEmitter } from 'node:events';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';
import { watchBrokerErrors } from './mqtt/broker-errors.js';
import { installRejectionPolicy } from './process-policy.js';

function capturingLogger() {
  const lines: Array<Record<string, any>> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

const value = async (registry: Registry, name: string) => (await registry.getSingleMetric(name)?.get())?.values[0]?.value;

describe('process policy: unhandled rejections', () => {
  it('logs each with its stack, counts it, and keeps the process up; uninstalls cleanly', async () => {
    const target = new EventEmitter();
    const { log, lines } = capturingLogger();
    const metrics = createMetrics();
    const uninstall = installRejectionPolicy(target as never, log, metrics.unhandledRejections);

    target.emit('unhandledRejection', new Error('presence publish failed'), Promise.resolve());
    target.emit('unhandledRejection', { code: 'SQLITE_BUSY' }, Promise.resolve());
    expect(await value(metrics.registry, 'baton_unhandled_rejections_total')).toBe(2);
    expect(lines[0]).toMatchObject({ level: 50, event: 'unhandledRejection', count: 1, err: { message: 'presence publish failed' } });
    expect(lines[0]!.err.stack).toContain('process-policy.unit.test');
    expect(lines[1]).toMatchObject({ reason: '{"code":"SQLITE_BUSY"}', count: 2 });

    uninstall();
    expect(target.listenerCount('unhandledRejection')).toBe(0);
  });

});

describe("aedes 'error' events", () => {
  it('are logged with context and counted instead of thrown', async () => {
    const aedes = Object.assign(new EventEmitter(), { id: 'broker-1' });
    const { log, lines } = capturingLogger();
    const metrics = createMetrics();
    watchBrokerErrors(aedes, log, metrics.brokerErrors);
    expect(() => aedes.emit('error', new Error('subscriptionsByTopic failed'))).not.toThrow();
    expect(await value(metrics.registry, 'baton_mqtt_broker_errors_total')).toBe(1);
    expect(lines[0]).toMatchObject({ level: 50, source: 'aedes', brokerId: 'broker-1', err: { message: 'subscriptionsByTopic failed' } });
  });
});
