-- Device shadows (broker/shadows/README.md): one row per shadow, the last N versions of each, and
-- one row per leaf of every live shadow for the fleet query. `shadow_name` is '' for the classic
-- shadow. Timestamps are epoch seconds, as in the shadow documents.

-- `snapshot_json` is the ShadowSnapshot ({ state: { desired, reported }, metadata, version }): the
-- same text as the history row and the `update/documents` message carry, serialised once.
-- A deleted shadow keeps its row (deleted = 1, empty state) so that a re-created one continues
-- the version counter. Deleting the device removes its shadows, history and leaves.
CREATE TABLE shadows (
  device_id     TEXT    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  shadow_name   TEXT    NOT NULL,
  snapshot_json TEXT    NOT NULL,
  version       INTEGER NOT NULL,
  timestamp     INTEGER NOT NULL,
  deleted       INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (device_id, shadow_name)
);

-- A delete shares its version with the update before it, hence `kind` in the key.
CREATE TABLE shadow_history (
  device_id     TEXT    NOT NULL,
  shadow_name   TEXT    NOT NULL,
  version       INTEGER NOT NULL,
  kind          TEXT    NOT NULL CHECK (kind IN ('update', 'delete')),
  timestamp     INTEGER NOT NULL,
  source        TEXT    NOT NULL CHECK (source IN ('device', 'operator')),
  client_token  TEXT,
  patch_json    TEXT,
  snapshot_json TEXT    NOT NULL,
  PRIMARY KEY (device_id, shadow_name, version, kind),
  FOREIGN KEY (device_id, shadow_name) REFERENCES shadows (device_id, shadow_name) ON DELETE CASCADE
);

-- WITHOUT ROWID: the value index then carries (device_id, shadow_name) itself, so a fleet query
-- is answered from the index alone, without a lookup per matching row.
CREATE TABLE shadow_leaves (
  device_id   TEXT NOT NULL,
  shadow_name TEXT NOT NULL,
  side        TEXT NOT NULL CHECK (side IN ('desired', 'reported', 'delta')),
  path        TEXT NOT NULL,
  value_json  TEXT NOT NULL,
  PRIMARY KEY (device_id, shadow_name, side, path),
  FOREIGN KEY (device_id, shadow_name) REFERENCES shadows (device_id, shadow_name) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX shadow_leaves_by_value ON shadow_leaves (side, path, value_json, shadow_name);
