/**
 * aedes emits 'error' for failures it has no client to blame on: a persistence call that failed
 * while it queued a message for offline sessions or cleared wills. An EventEmitter with no
 * 'error' listener throws, which would end the process and drop every device; this listener logs
 * the error with its context and counts it (`baton_mqtt_broker_errors_total`) instead.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

export function watchBrokerErrors(aedes: Pick<EventEmitter, 'on'> & { id?: string }, log: Logger, counter: { inc(): void }): void {
  aedes.on('error', (err: unknown) => {
    counter.inc();
    log.error({ err, source: 'aedes', brokerId: aedes.id }, 'MQTT broker error; still serving');
  });
}
