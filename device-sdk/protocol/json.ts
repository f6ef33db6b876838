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

/**
 * Nesting levels a free-form JSON object may have (`{"a":1}` is 1, `{"a":{"b":[1]}}` is 3):
 * device and provisioning-template attributes, job documents and configs, execution
 * `statusDetails`, telemetry. Far beyond any real metadata or configuration document (shadows
 * default to 6), and far from the limits of the recursive code such values meet (zod, merge,
 * JSON.stringify, SQLite's JSON functions). Deeper is refused with `TooDeep`.
 */
export const FREE_FORM_MAX_DEPTH = 16;

/**
 * Nesting depth: a scalar is 0, `{}`/`[]` of scalars is 1. Iterative, so a hostile value nested
 * 100 000 deep is measured (and then rejected) without exhausting the call stack.
 */
export function jsonDepth(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, depth] = item;
    if (typeof node !== 'object' || node === null) continue;
    max = Math.max(max, depth + 1);
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return max;
}
