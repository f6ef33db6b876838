/**
 * Fleet queries over shadows ("which devices report fw 1.2.0?") and the leaf rows that index them.
 *
 * The store keeps one row per leaf of every live shadow, rewritten with the shadow (deleted
 * shadows have none): `(device_id, shadow_name, side, path, value_json)` with an index on
 * `(side, path, value_json, shadow_name)` (broker/store/sqlite/migrations/002_shadows.sql).
 * `side` is desired, reported or delta; `path` is a JSON array of keys (`'["net","rssi"]'`) rather
 * than dotted text, so that a key containing "." can never collide with a nested path;
 * `value_json` is canonical JSON (sorted keys): `'"1.2.0"'`, `'3'`, `'true'`, `'[1,2]'`.
 *
 * Each LeafCondition selects the devices with a row (side, path, value_json IN …) in the queried
 * shadow, and `hasDelta` those with (or without) a row on side 'delta'; all conditions must hold.
 * The SQL is `shadowQueryClause` in broker/store/sqlite/shadows.ts; `matchesFilter` is the
 * reference.
 */
import { BatonError } from '../../device-sdk/protocol/errors.js';
import type { JsonObject, JsonValue } from '../../device-sdk/protocol/shadow.js';
import { computeDeltaUnder } from './delta.js';
import type { StoredShadow } from './stored.js';
import { MAX_BODY_DEPTH } from '../http/json-body.js';
import { canonicalJson, isJsonObject, jsonDepth, pickKeys } from './json.js';

export type LeafSide = 'desired' | 'reported' | 'delta';

export interface LeafRow {
  side: LeafSide;
  path: string;
  valueJson: string;
}

/** Key path → JSON array text, the `path` column. */
export const pathKey = (keys: readonly string[]): string => JSON.stringify(keys);

function leavesOf(side: LeafSide, section: JsonObject, prefix: string[], out: LeafRow[]): LeafRow[] {
  for (const [key, value] of Object.entries(section)) {
    const keys = [...prefix, key];
    if (isJsonObject(value)) leavesOf(side, value, keys, out);
    else out.push({ side, path: pathKey(keys), valueJson: canonicalJson(value) });
  }
  return out;
}

/** Every leaf (scalar or whole array) of desired, reported and the derived delta. */
export function flattenLeaves(stored: StoredShadow | undefined): LeafRow[] {
  if (stored === undefined || stored.deleted) return [];
  return flattenLeavesUnder(stored, { desired: Object.keys(stored.desired), reported: Object.keys(stored.reported) });
}

/**
 * The leaf rows below the given top-level keys of each section: all that an update naming only
 * these keys can change, so a store rewrites only these. The delta below a key depends only on
 * desired and reported below the same key.
 */
export function flattenLeavesUnder(stored: StoredShadow | undefined, keys: { desired: readonly string[]; reported: readonly string[] }): LeafRow[] {
  if (stored === undefined || stored.deleted) return [];
  const either = [...new Set([...keys.desired, ...keys.reported])];
  const rows = leavesOf('desired', pickKeys(stored.desired, keys.desired), [], []);
  leavesOf('reported', pickKeys(stored.reported, keys.reported), [], rows);
  return leavesOf('delta', computeDeltaUnder(stored.desired, stored.reported, either), [], rows);
}

// --- query parsing -----------------------------------------------------------------------------

export interface LeafCondition {
  side: 'desired' | 'reported';
  keys: string[];
  /** As in the `path` column. */
  path: string;
  /** Canonical JSON of the accepted values; a repeated parameter means any of them. */
  valuesJson: string[];
}

/** All conditions must hold (AND). */
export interface ShadowFilter {
  leaves: LeafCondition[];
  hasDelta?: boolean;
}

const invalid = (message: string) => new BatonError('InvalidRequest', message);

/**
 * A value compares as JSON: `3` is the number, `true` the boolean, `"3"` the string; text that is
 * not JSON (`1.2.0`) is the string itself. Objects and null are refused: no leaf ever holds one.
 * An array nested deeper than any request body may be is refused with `TooDeep` before
 * canonicalJson (recursive) sees it.
 */
export function parseQueryValue(text: string): JsonValue {
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
  if (value === null || isJsonObject(value)) throw invalid(`query value ${text} is not a leaf value`);
  if (jsonDepth(value) > MAX_BODY_DEPTH) throw new BatonError('TooDeep', `a query value may nest at most ${MAX_BODY_DEPTH} levels`);
  return value;
}

function asStrings(name: string, raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0 || !list.every((v): v is string => typeof v === 'string')) {
    throw invalid(`query parameter ${name} must be text`);
  }
  return list;
}

function leafCondition(name: string, values: string[]): LeafCondition {
  const [side, ...keys] = name.split('.');
  if ((side !== 'desired' && side !== 'reported') || keys.length === 0 || keys.some((k) => k === '')) {
    throw invalid(`unknown query parameter ${name}; expected reported.<path>, desired.<path> or hasDelta`);
  }
  return { side, keys, path: pathKey(keys), valuesJson: values.map((v) => canonicalJson(parseQueryValue(v))) };
}

function hasDeltaValue(values: string[]): boolean {
  if (values.length !== 1 || (values[0] !== 'true' && values[0] !== 'false')) {
    throw invalid('hasDelta must be true or false');
  }
  return values[0] === 'true';
}

/**
 * Parses a query-string object (as fastify hands it over). Parameters named in `passThrough`
 * (paging, say) are skipped; any other unknown one is refused, so a typo cannot widen a query.
 */
export function parseShadowQuery(query: Record<string, unknown>, passThrough: readonly string[] = []): ShadowFilter {
  const filter: ShadowFilter = { leaves: [] };
  for (const [name, raw] of Object.entries(query)) {
    if (raw === undefined || passThrough.includes(name)) continue;
    const values = asStrings(name, raw);
    if (name === 'hasDelta') filter.hasDelta = hasDeltaValue(values);
    else filter.leaves.push(leafCondition(name, values));
  }
  return filter;
}

/** A fleet query on one shadow of every device: all conditions of `filter` hold in that shadow. */
export interface ShadowQuery {
  /** undefined for the classic shadow. */
  shadowName: string | undefined;
  filter: ShadowFilter;
}

/**
 * The shadow part of a device listing (`?shadow=…&reported.fw=…&hasDelta=…`), or undefined when
 * it has none. Naming a shadow alone asks for the devices that have it.
 */
export function parseFleetQuery(params: Record<string, unknown>, shadowName: string | undefined): ShadowQuery | undefined {
  const filter = parseShadowQuery(params);
  if (shadowName === undefined && filter.leaves.length === 0 && filter.hasDelta === undefined) return undefined;
  return { shadowName, filter };
}

/** The filter applied to one stored shadow, with the semantics the SQL above must match. */
export function matchesFilter(stored: StoredShadow | undefined, filter: ShadowFilter): boolean {
  if (stored === undefined || stored.deleted) return false;
  const rows = flattenLeaves(stored);
  const has = (side: LeafSide, path: string, valuesJson: string[]) =>
    rows.some((r) => r.side === side && r.path === path && valuesJson.includes(r.valueJson));
  if (filter.hasDelta !== undefined && rows.some((r) => r.side === 'delta') !== filter.hasDelta) return false;
  return filter.leaves.every((c) => has(c.side, c.path, c.valuesJson));
}
