/**
 * Small JSON helpers the shadow core shares: object test, deep equality, canonical text, depth.
 * Inputs are parsed JSON (no `undefined`, no cycles, no class instances).
 */
import type { JsonObject, JsonValue } from '../../device-sdk/protocol/shadow.js';

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep equality; arrays compare element by element in order, objects ignore key order. */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (!isJsonObject(a) || !isJsonObject(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
}

/**
 * JSON text with object keys sorted, so equal values always serialise alike: the leaf index
 * compares `value_json` as text, and `{"a":1,"b":2}` must equal `{"b":2,"a":1}`.
 */
export function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (!isJsonObject(value)) return JSON.stringify(value);
  const entries = Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`);
  return `{${entries.join(',')}}`;
}

/** Nesting depth (iterative); shared with the rest of the API's free-form JSON. */
export { jsonDepth } from '../../device-sdk/protocol/json.js';

/**
 * Whether any object anywhere has an own `__proto__` key. JSON.parse creates such keys, but zod
 * and plain assignment treat them as the prototype, silently dropping or corrupting the data.
 */
export function hasProtoKey(value: unknown): boolean {
  const stack: unknown[] = [value];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (typeof node !== 'object' || node === null) continue;
    if (!Array.isArray(node) && Object.hasOwn(node, '__proto__')) return true;
    for (const child of Object.values(node)) stack.push(child);
  }
  return false;
}

/** The entries of `object` under `keys` (those it has). */
export function pickKeys(object: JsonObject, keys: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const key of keys) if (Object.hasOwn(object, key)) out[key] = object[key]!;
  return out;
}

/** Byte length of the compact serialisation, as AWS measures a state document. */
export const jsonBytes = (value: JsonValue): number => Buffer.byteLength(JSON.stringify(value), 'utf8');
