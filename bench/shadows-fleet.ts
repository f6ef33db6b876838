/**
 * The fleet-query part of `bench/shadows.ts`: a data dir holding N devices with a classic shadow
 * each, written straight into SQLite (through the real migrations and the pure core, so the rows
 * are what the broker would write), and the queries timed against it.
 *
 * The fleet: desired fw 1.3.0 everywhere; 90 % report 1.3.0, 9 % 1.2.0, 1 % 1.1.0 (so 10 % have a
 * delta); `net.rssi` spread over 50 values.
 */
import type { Database } from 'better-sqlite3';
import { flattenLeaves } from '../broker/shadows/query.js';
import { applyUpdate } from '../broker/shadows/document.js';
import { defaultShadowLimits } from '../broker/shadows/limits.js';
import { toSnapshot } from '../broker/shadows/stored.js';
import { snapshotJson } from '../broker/shadows/wire-json.js';
import { openSqliteStore } from '../broker/store/sqlite/index.js';

export const fleetId = (i: number) => `fleet-${String(i).padStart(6, '0')}`;

const reportedFw = (i: number) => (i % 100 === 0 ? '1.1.0' : i % 100 < 10 ? '1.2.0' : '1.3.0');

/** Fills `dataDir` with `devices` devices and their shadows; returns the leaf row count. */
export function buildFleet(dataDir: string, devices: number): { leafRows: number } {
  const store = openSqliteStore({ dataDir, healthHistoryLimit: 1 });
  const db: Database = store.db;
  const insertDevice = db.prepare(
    "INSERT INTO devices (id, tags, attributes, secret_hash, created_at, updated_at) VALUES (?, '[]', '{}', ?, ?, ?)",
  );
  const insertShadow = db.prepare(
    "INSERT INTO shadows (device_id, shadow_name, snapshot_json, version, timestamp, deleted) VALUES (?, '', ?, ?, ?, 0)",
  );
  const insertLeaf = db.prepare("INSERT INTO shadow_leaves (device_id, shadow_name, side, path, value_json) VALUES (?, '', ?, ?, ?)");
  const now = Date.now();
  const at = new Date(now).toISOString();
  let leafRows = 0;
  db.transaction(() => {
    for (let i = 0; i < devices; i++) {
      const id = fleetId(i);
      const state = {
        desired: { fw: '1.3.0', cfg: { rate: 5 } },
        reported: { fw: reportedFw(i), cfg: { rate: 5 }, net: { rssi: -40 - (i % 50), wifi: true } },
      };
      const { stored } = applyUpdate(undefined, { state }, { now, limits: defaultShadowLimits, source: 'device' });
      insertDevice.run(id, Buffer.alloc(32), at, at);
      insertShadow.run(id, snapshotJson(toSnapshot(stored)), stored.version, stored.timestamp);
      for (const leaf of flattenLeaves(stored)) {
        insertLeaf.run(id, leaf.side, leaf.path, leaf.valueJson);
        leafRows++;
      }
    }
  })();
  // No ANALYZE: the broker never runs it, so the plans measured are the plans a deployment gets.
  store.db.close();
  return { leafRows };
}

export interface FleetQuery {
  label: string;
  query: string;
  /** Devices that match, for the report. */
  matches: (devices: number) => number;
}

export const fleetQueries: FleetQuery[] = [
  { label: 'rare value (1 %)', query: 'reported.fw=1.1.0', matches: (n) => Math.ceil(n / 100) },
  { label: 'uncommon value (9 %)', query: 'reported.fw=1.2.0', matches: (n) => Math.ceil(n / 100) * 9 },
  { label: 'every device', query: 'desired.fw=1.3.0', matches: (n) => n },
  { label: 'no device', query: 'reported.fw=9.9.9', matches: () => 0 },
  { label: 'hasDelta=true (10 %)', query: 'hasDelta=true', matches: (n) => Math.ceil(n / 100) * 10 },
  { label: 'hasDelta=false (90 %)', query: 'hasDelta=false', matches: (n) => n - Math.ceil(n / 100) * 10 },
  { label: 'two leaves AND', query: 'reported.fw=1.2.0&reported.net.rssi=-45', matches: () => Number.NaN },
  { label: 'any of two values', query: 'reported.fw=1.1.0&reported.fw=1.2.0', matches: (n) => Math.ceil(n / 100) * 10 },
];

/** Milliseconds of one `GET /api/v1/devices?…` answered in full, and its page. */
export async function timeQuery(httpUrl: string, token: string, query: string): Promise<{ ms: number; items: number; nextCursor: string | null }> {
  const started = performance.now();
  const res = await fetch(`${httpUrl}/api/v1/devices?${query}`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { items?: unknown[]; nextCursor?: string | null };
  const ms = performance.now() - started;
  if (res.status !== 200 || !body.items) throw new Error(`${query}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return { ms, items: body.items.length, nextCursor: body.nextCursor ?? null };
}

/** Pages through every match, `limit` per page: the time to enumerate them all. */
export async function timeEnumeration(httpUrl: string, token: string, query: string, limit: number): Promise<{ ms: number; total: number; pages: number }> {
  const started = performance.now();
  let cursor: string | null = null;
  let total = 0;
  let pages = 0;
  do {
    const page = await timeQuery(httpUrl, token, `${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    total += page.items;
    pages += 1;
    cursor = page.nextCursor;
  } while (cursor);
  return { ms: performance.now() - started, total, pages };
}
