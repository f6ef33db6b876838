-- Foundation: devices, tags, sites, admin tokens, telemetry, health and connection history.
-- Times are ISO 8601 text for records read by people, epoch milliseconds where ranges are queried.

CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  device_class TEXT,
  site TEXT,
  tags TEXT NOT NULL DEFAULT '[]',
  attributes TEXT NOT NULL DEFAULT '{}',
  secret_hash BLOB NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  first_connected_at TEXT,
  last_seen_at TEXT
);
CREATE INDEX devices_by_class ON devices (device_class, id);
CREATE INDEX devices_by_site ON devices (site, id);

-- Tags are also kept one per row so tag filters (and job targeting) use an index.
CREATE TABLE device_tags (
  device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  PRIMARY KEY (tag, device_id)
);
CREATE INDEX device_tags_by_device ON device_tags (device_id);

CREATE TABLE sites (
  id TEXT PRIMARY KEY,
  uplink_bytes_per_sec INTEGER NOT NULL,
  description TEXT,
  time_zone TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  hash BLOB NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  last_used_at TEXT
);

CREATE TABLE telemetry (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL,
  stream TEXT,
  received_at_ms INTEGER NOT NULL,
  payload TEXT NOT NULL
);
CREATE INDEX telemetry_by_device ON telemetry (device_id, id);
CREATE INDEX telemetry_by_time ON telemetry (received_at_ms);

CREATE TABLE health_latest (
  device_id TEXT PRIMARY KEY,
  received_at TEXT NOT NULL,
  report TEXT NOT NULL,
  firmware_version TEXT
);

CREATE TABLE health_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL,
  received_at TEXT NOT NULL,
  report TEXT NOT NULL
);
CREATE INDEX health_history_by_device ON health_history (device_id, id);

CREATE TABLE connection_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL,
  event TEXT NOT NULL,
  at TEXT NOT NULL,
  remote_address TEXT NOT NULL,
  transport TEXT NOT NULL,
  reason TEXT
);
CREATE INDEX connection_events_by_device ON connection_events (device_id, id);
