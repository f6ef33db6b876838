/**
 * The SQLite ShadowRepo (tables in migrations/002_shadows.sql). Every change runs inside the
 * group commit: the read, the pure `change` and the writes happen in one synchronous step of the
 * batch transaction, so changes to one shadow are serialized without locks, and the caller's
 * promise resolves only after the batch's commit (fsynced: `synchronous = FULL`).
 */
import type { Database } from 'better-sqlite3';
import { BatonError } from '../../../device-sdk/protocol/errors.js';
import type { ShadowSnapshot, ShadowStatePatch } from '../../../device-sdk/protocol/shadow.js';
import { historyCutoff, type HistoryEntry } from '../../shadows/changes.js';
import { flattenLeaves, flattenLeavesUnder, type LeafRow, type ShadowQuery } from '../../shadows/query.js';
import type { ShadowKey, ShadowRepo, ShadowWrite } from '../../shadows/store.js';
import { toSnapshot, type StoredShadow } from '../../shadows/stored.js';
import { snapshotJson } from '../../shadows/wire-json.js';
import type { WriteBatcher } from './write-batcher.js';

interface ShadowRow {
  snapshot_json: string;
  version: number;
  timestamp: number;
  deleted: number;
}

interface HistoryRow {
  kind: HistoryEntry['kind'];
  version: number;
  timestamp: number;
  source: HistoryEntry['source'];
  client_token: string | null;
  patch_json: string | null;
  snapshot_json: string;
}

/** The classic shadow is stored under '' so that the name can be part of the primary key. */
const nameColumn = (key: ShadowKey): string => key.shadowName ?? '';

function toStored(r: ShadowRow): StoredShadow {
  const { state, metadata } = JSON.parse(r.snapshot_json) as ShadowSnapshot;
  return { desired: state.desired, reported: state.reported, metadata, version: r.version, timestamp: r.timestamp, deleted: r.deleted === 1 };
}

function toHistoryEntry(r: HistoryRow): HistoryEntry {
  const entry: HistoryEntry = { kind: r.kind, version: r.version, timestamp: r.timestamp, source: r.source, snapshot: JSON.parse(r.snapshot_json) as ShadowSnapshot };
  if (r.client_token !== null) entry.clientToken = r.client_token;
  if (r.patch_json !== null) entry.patch = JSON.parse(r.patch_json) as ShadowStatePatch;
  return entry;
}

/** The leaf rows to delete and to upsert to go from `before` to `after`. */
function leafChanges(before: LeafRow[], after: LeafRow[]): { removed: LeafRow[]; upserted: LeafRow[] } {
  const old = new Map(before.map((r) => [`${r.side}\0${r.path}`, r]));
  const upserted: LeafRow[] = [];
  for (const row of after) {
    const key = `${row.side}\0${row.path}`;
    if (old.get(key)?.valueJson !== row.valueJson) upserted.push(row);
    old.delete(key);
  }
  return { removed: [...old.values()], upserted };
}

/**
 * The leaf rows a write changes. An update that names some top-level keys can change only the
 * rows below them (a one-key report touches one or two rows, whatever the document's size); a
 * section cleared with `null`, or a shadow (re-)created, is diffed whole.
 */
function leafDiff(before: StoredShadow | undefined, { stored: after, history }: ShadowWrite) {
  const patch = history.patch;
  if (before === undefined || before.deleted || patch === undefined || patch.desired === null || patch.reported === null) {
    return leafChanges(flattenLeaves(before), flattenLeaves(after));
  }
  const keys = { desired: Object.keys(patch.desired ?? {}), reported: Object.keys(patch.reported ?? {}) };
  return leafChanges(flattenLeavesUnder(before, keys), flattenLeavesUnder(after, keys));
}

const isForeignKeyError = (err: unknown) => (err as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY';

export function createSqliteShadowRepo(db: Database, writer: WriteBatcher, options: { historyVersions: number }): ShadowRepo {
  const keep = options.historyVersions;
  const select = db.prepare<[string, string], ShadowRow>(
    'SELECT snapshot_json, version, timestamp, deleted FROM shadows WHERE device_id = ? AND shadow_name = ?',
  );
  const upsert = db.prepare(
    `INSERT INTO shadows (device_id, shadow_name, snapshot_json, version, timestamp, deleted) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (device_id, shadow_name) DO UPDATE SET snapshot_json = excluded.snapshot_json,
       version = excluded.version, timestamp = excluded.timestamp, deleted = excluded.deleted`,
  );
  const upsertLeaf = db.prepare(
    `INSERT INTO shadow_leaves (device_id, shadow_name, side, path, value_json) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (device_id, shadow_name, side, path) DO UPDATE SET value_json = excluded.value_json`,
  );
  const deleteLeaf = db.prepare('DELETE FROM shadow_leaves WHERE device_id = ? AND shadow_name = ? AND side = ? AND path = ?');
  const deleteLeaves = db.prepare('DELETE FROM shadow_leaves WHERE device_id = ? AND shadow_name = ?');
  const insertHistory = db.prepare(
    `INSERT INTO shadow_history (device_id, shadow_name, version, kind, timestamp, source, client_token, patch_json, snapshot_json)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const pruneHistory = db.prepare('DELETE FROM shadow_history WHERE device_id = ? AND shadow_name = ? AND version <= ?');
  const selectHistory = db.prepare<[string, string, number], HistoryRow>(
    `SELECT kind, version, timestamp, source, client_token, patch_json, snapshot_json FROM shadow_history
     WHERE device_id = ? AND shadow_name = ? ORDER BY version DESC, kind ASC LIMIT ?`,
  );
  const selectLive = db.prepare<[string], { shadow_name: string; version: number; timestamp: number }>(
    'SELECT shadow_name, version, timestamp FROM shadows WHERE device_id = ? AND deleted = 0 ORDER BY shadow_name',
  );

  const read = (id: string, name: string) => {
    const row = select.get(id, name);
    return row ? toStored(row) : undefined;
  };

  function writeLeaves(id: string, name: string, before: StoredShadow | undefined, write: ShadowWrite): void {
    if (write.stored.deleted) {
      deleteLeaves.run(id, name);
      return;
    }
    const { removed, upserted } = leafDiff(before, write);
    for (const r of removed) deleteLeaf.run(id, name, r.side, r.path);
    for (const r of upserted) upsertLeaf.run(id, name, r.side, r.path, r.valueJson);
  }

  function writeHistory(id: string, name: string, h: HistoryEntry): void {
    if (keep === 0) return;
    const patch = h.patch === undefined ? null : JSON.stringify(h.patch);
    insertHistory.run(id, name, h.version, h.kind, h.timestamp, h.source, h.clientToken ?? null, patch, snapshotJson(h.snapshot));
    pruneHistory.run(id, name, historyCutoff(h.version, keep));
  }

  function persist(id: string, name: string, before: StoredShadow | undefined, write: ShadowWrite): void {
    const { stored: s, history } = write;
    // An update's history snapshot is its stored document (applyUpdate): one serialisation serves
    // the row, the history row and the messages. A delete's history keeps what was removed.
    const snapshot = history.kind === 'update' ? history.snapshot : toSnapshot(s);
    upsert.run(id, name, snapshotJson(snapshot), s.version, s.timestamp, s.deleted ? 1 : 0);
    writeLeaves(id, name, before, write);
    writeHistory(id, name, history);
  }

  return {
    async get(key) {
      return read(key.deviceId, nameColumn(key));
    },
    async change(key, change) {
      const name = nameColumn(key);
      let written: ReturnType<typeof change> | undefined;
      try {
        await writer.enqueue(() => {
          const before = read(key.deviceId, name);
          const write = change(before);
          persist(key.deviceId, name, before, write);
          written = write;
        });
      } catch (err) {
        if (isForeignKeyError(err)) throw new BatonError('NotFound', `device ${key.deviceId} does not exist`);
        throw err;
      }
      return written!;
    },
    async list(deviceId) {
      return selectLive.all(deviceId).map((r) => ({ name: r.shadow_name === '' ? null : r.shadow_name, version: r.version, timestamp: r.timestamp }));
    },
    async history(key, limit) {
      return selectHistory.all(key.deviceId, nameColumn(key), limit ?? -1).map(toHistoryEntry); // LIMIT -1: no limit
    },
  };
}

/**
 * The fleet query as one condition on `devices.id`, for the device listing (semantics:
 * `matchesFilter` in shadows/query.ts). Each leaf condition is an uncorrelated IN over the value
 * index, so SQLite reads only the matching index entries; leaf rows exist only for live shadows.
 */
export function shadowQueryClause(q: ShadowQuery): { sql: string; params: unknown[] } {
  const name = q.shadowName ?? '';
  const clauses: string[] = [];
  const params: unknown[] = [];
  const leaves = (not: string, where: string, ...values: unknown[]) => {
    clauses.push(`devices.id ${not}IN (SELECT device_id FROM shadow_leaves WHERE ${where} AND shadow_name = ?)`);
    params.push(...values, name);
  };
  for (const c of q.filter.leaves) {
    leaves('', `side = ? AND path = ? AND value_json IN (${c.valuesJson.map(() => '?').join(', ')})`, c.side, c.path, ...c.valuesJson);
  }
  if (q.filter.hasDelta === true) leaves('', "side = 'delta'");
  if (q.filter.leaves.length === 0 && q.filter.hasDelta !== true) {
    // No leaf condition implies a live shadow: ask for one (hasDelta=false, or `shadow` alone).
    clauses.push('EXISTS (SELECT 1 FROM shadows s WHERE s.device_id = devices.id AND s.shadow_name = ? AND s.deleted = 0)');
    params.push(name);
  }
  if (q.filter.hasDelta === false) leaves('NOT ', "side = 'delta'");
  return { sql: clauses.join(' AND '), params };
}
