/**
 * The SQLite ShadowRepo against the pure core's reference semantics: leaf rows always equal
 * `flattenLeaves` of the stored record, and the fleet query's SQL selects exactly the devices
 * `matchesFilter` accepts, over a seeded random fleet.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JsonObject, JsonValue } from '../device-sdk/protocol/shadow.js';
import { applyUpdate, deleteShadow, type StoredShadow } from '../broker/shadows/document.js';
import { defaultShadowLimits as limits } from '../broker/shadows/limits.js';
import { flattenLeaves, matchesFilter, parseFleetQuery } from '../broker/shadows/query.js';
import type { ShadowKey, ShadowRepo } from '../broker/shadows/store.js';
import { openSqliteStore, type SqliteStore } from '../broker/store/sqlite/index.js';
import { createSqliteShadowRepo } from '../broker/store/sqlite/shadows.js';

/** mulberry32: a small seeded PRNG, so a failure reproduces. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const leafValues: JsonValue[] = [1, 2, '1', 'on', true, false, [1, 2], null];

function randomPatch(rand: () => number, depth = 0): JsonObject {
  const patch: JsonObject = {};
  for (const key of ['a', 'b', 'c']) {
    const r = rand();
    if (r < 0.4) continue;
    patch[key] = r < 0.55 && depth < 2 ? randomPatch(rand, depth + 1) : leafValues[Math.floor(rand() * leafValues.length)]!;
  }
  return patch;
}

let dir: string;
let store: SqliteStore;
let repo: ShadowRepo;
const ids = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7'];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'baton-shadow-store-'));
  store = openSqliteStore({ dataDir: dir, healthHistoryLimit: 10 });
  repo = createSqliteShadowRepo(store.db, store.writer, { historyVersions: 3 });
  for (const id of ids) await store.devices.create({ id, secretHash: Buffer.alloc(32) }, new Date(0));
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const update = (key: ShadowKey, state: { desired?: JsonObject | null; reported?: JsonObject | null }, version?: number) =>
  repo.change(key, (current) => applyUpdate(current, { state, ...(version === undefined ? {} : { version }) }, { now: 1000, limits, source: 'device' }));

const leafRows = (key: ShadowKey) =>
  store.db.prepare('SELECT side, path, value_json AS valueJson FROM shadow_leaves WHERE device_id = ? AND shadow_name = ? ORDER BY side, path')
    .all(key.deviceId, key.shadowName ?? '');

const sorted = <T extends { side: string; path: string }>(rows: T[]) =>
  [...rows].sort((x, y) => (x.side === y.side ? (x.path < y.path ? -1 : 1) : x.side < y.side ? -1 : 1));

/** Random updates and deletes over the fleet; returns the last stored record per device (classic shadow). */
async function randomFleet(seed: number): Promise<Map<string, StoredShadow | undefined>> {
  const rand = random(seed);
  for (let step = 0; step < 200; step++) {
    const key = { deviceId: ids[Math.floor(rand() * ids.length)]!, shadowName: undefined };
    if (rand() < 0.08) {
      await repo.change(key, (current) => deleteShadow(current, { now: 1000, source: 'operator' })).catch(() => undefined);
    } else {
      const side = rand() < 0.5 ? 'desired' : 'reported';
      // Mostly merge patches (rewriting only the leaves below the keys they name); now and then a
      // whole section cleared with null, or both sections at once.
      const r = rand();
      const state = r < 0.05 ? { [side]: null } : r < 0.15 ? { desired: randomPatch(rand), reported: randomPatch(rand) } : { [side]: randomPatch(rand) };
      await update(key, state);
    }
  }
  return new Map(await Promise.all(ids.map(async (id) => [id, await repo.get({ deviceId: id, shadowName: undefined })] as const)));
}

describe('SQLite ShadowRepo', () => {
  it('serializes changes queued in one batch: each sees the one before it', async () => {
    const key = { deviceId: 'd0', shadowName: undefined };
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => update(key, { reported: { [`k${i}`]: i } })));
    expect(results.map((r) => r.stored.version)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(Object.keys((await repo.get(key))!.reported)).toHaveLength(50);
  });

  it('writes nothing for a change that throws, and the rest of its batch commits', async () => {
    const key = { deviceId: 'd0', shadowName: 'cfg' };
    await update(key, { reported: { a: 1 } });
    const [ok1, conflict, ok2] = await Promise.allSettled([update(key, { reported: { b: 1 } }), update(key, { reported: { c: 1 } }, 7), update(key, { reported: { d: 1 } })]);
    expect([ok1.status, conflict.status, ok2.status]).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((conflict as PromiseRejectedResult).reason.code).toBe('VersionConflict');
    const stored = (await repo.get(key))!;
    expect([stored.version, Object.keys(stored.reported)]).toEqual([3, ['a', 'b', 'd']]);
    expect((await repo.history(key)).map((h) => h.version)).toEqual([3, 2, 1]);
  });

  it('answers NotFound for a device that does not exist', async () => {
    await expect(update({ deviceId: 'ghost', shadowName: undefined }, { reported: { a: 1 } })).rejects.toMatchObject({ code: 'NotFound' });
  });

  it.each([1, 2, 3])('keeps leaf rows equal to flattenLeaves of the record (seed %i)', async (seed) => {
    const fleet = await randomFleet(seed);
    for (const [id, stored] of fleet) {
      expect(leafRows({ deviceId: id, shadowName: undefined })).toEqual(sorted(flattenLeaves(stored)));
    }
  });

  it.each([4, 5, 6])('selects exactly the devices matchesFilter accepts (seed %i)', async (seed) => {
    const fleet = await randomFleet(seed);
    const rand = random(seed * 31);
    const value = () => JSON.stringify(leafValues[Math.floor(rand() * (leafValues.length - 1))]);
    const queries: Array<Record<string, string | string[]>> = [{ hasDelta: 'true' }, { hasDelta: 'false' }];
    for (let i = 0; i < 40; i++) {
      const side = rand() < 0.5 ? 'desired' : 'reported';
      const path = rand() < 0.5 ? 'a' : `${['a', 'b', 'c'][Math.floor(rand() * 3)]}.b`;
      const query: Record<string, string | string[]> = { [`${side}.${path}`]: rand() < 0.3 ? [value(), value()] : value() };
      if (rand() < 0.3) query.hasDelta = rand() < 0.5 ? 'true' : 'false';
      queries.push(query);
    }
    let matched = 0;
    for (const params of queries) {
      const shadow = parseFleetQuery(params, undefined)!;
      const listed = (await store.devices.list({ shadow, limit: 100 })).map((d) => d.id);
      const expected = ids.filter((id) => matchesFilter(fleet.get(id), shadow.filter));
      expect([params, listed]).toEqual([params, expected]);
      if (expected.length > 0) matched += 1;
    }
    expect(matched).toBeGreaterThan(queries.length / 4); // the fleet is not so sparse that every answer is []
  });

  it('keeps the last N versions of history and removes everything with the device', async () => {
    const key = { deviceId: 'd1', shadowName: undefined };
    for (let i = 0; i < 6; i++) await update(key, { desired: { i } });
    expect((await repo.history(key)).map((h) => h.version)).toEqual([6, 5, 4]);
    await store.devices.delete('d1');
    expect([await repo.get(key), await repo.history(key), leafRows(key)]).toEqual([undefined, [], []]);
  });
});
