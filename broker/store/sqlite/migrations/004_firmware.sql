-- Firmware: signed artifacts and the keys trusted to sign them. The image bytes live in
-- {dataDir}/firmware/{sha256}.bin (content-addressed, so two records may share one image);
-- a row holds the signed manifest (compact JWS) and the fields the broker queries by.

CREATE TABLE firmware (
  id TEXT PRIMARY KEY,
  device_class TEXT NOT NULL,
  version TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  security_counter INTEGER NOT NULL,
  signed_by TEXT NOT NULL CHECK (signed_by IN ('server', 'offline')),
  manifest TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (device_class, version)
);
CREATE INDEX firmware_by_sha256 ON firmware (sha256);
CREATE INDEX firmware_by_class_sequence ON firmware (device_class, sequence);

CREATE TABLE firmware_keys (
  key_id TEXT PRIMARY KEY,
  algorithm TEXT NOT NULL,
  public_key_pem TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('server', 'offline')),
  created_at TEXT NOT NULL,
  retired_at TEXT
);
