import { BatonError } from './errors.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * Parses an MQTT or HTTP payload that must be a JSON object, enforcing a byte limit before
 * parsing so an oversize payload costs no parse time.
 */
export function parseJsonObject(payload: Buffer | string, maxBytes: number): JsonObject {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size > maxBytes) {
    throw new BatonError('PayloadTooLarge', `payload is ${size} bytes; the limit is ${maxBytes}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(payload.toString());
  } catch {
    throw new BatonError('InvalidJSON', 'payload is not valid JSON');
  }
  if (!isJsonObject(value)) {
    throw new BatonError('InvalidJSON', 'payload must be a JSON object');
  }
  return value;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
