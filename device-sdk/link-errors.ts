/** How a failed connection attempt reads to the app: a `BatonError` with a catalogue code. */
import type { ResolvedOptions } from './options.js';
import { BatonError, type ErrorCode } from './protocol/errors.js';

/** CONNACK return codes [MQTT-3.2.2.3] as catalogue codes: a bad secret is `Unauthorized`. */
const connackCodes: Record<number, ErrorCode> = { 1: 'InvalidRequest', 2: 'InvalidRequest', 3: 'Unavailable', 4: 'Unauthorized', 5: 'Unauthorized' };

export function connectionError(err: Error & { code?: unknown }, o: Pick<ResolvedOptions, 'deviceId' | 'url'>): BatonError {
  if (typeof err.code === 'number' && err.message.startsWith('Connection refused')) {
    const code = connackCodes[err.code] ?? 'Unavailable';
    return new BatonError(code, `the broker refused device ${o.deviceId} (CONNACK ${err.code}: ${err.message.replace('Connection refused: ', '')})`, { returnCode: err.code });
  }
  const cause = typeof err.code === 'string' ? err.code : undefined;
  return new BatonError('Unavailable', `connection to ${where(o.url)} failed: ${err.message}`, cause ? { cause } : undefined);
}

export function asBatonError(err: unknown): BatonError {
  if (err instanceof BatonError) return err;
  return new BatonError('Unavailable', err instanceof Error ? err.message : String(err));
}

/** The URL without any credentials in it, for messages. */
export function where(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}
