-- Certificates: every certificate the fleet CA issued (device and claim), provisioning templates,
-- their claim credentials, the hardware serials that registered, and approval-pending devices.

-- A device created by a template with requireApproval stays `pending` (refused at CONNECT) until
-- an operator approves it.
ALTER TABLE devices ADD COLUMN approval_pending INTEGER NOT NULL DEFAULT 0;

-- No foreign key to devices: a revocation must outlive the device, so a certificate of a deleted
-- device is never accepted again, even if a device of the same id is created later.
CREATE TABLE certificates (
  serial TEXT PRIMARY KEY,                -- lowercase hex, no separators
  kind TEXT NOT NULL,                     -- 'device' | 'claim'
  device_id TEXT,                         -- for kind 'device'
  template TEXT,                          -- for kind 'claim'
  source TEXT NOT NULL,                   -- 'csr' | 'generated' | 'rotation' | 'provisioning' | 'claim'
  fingerprint_sha256 TEXT NOT NULL,
  not_before TEXT NOT NULL,               -- ISO 8601 (UTC, same format everywhere, so it sorts)
  not_after TEXT NOT NULL,
  issued_at TEXT NOT NULL,
  certificate_pem TEXT NOT NULL,
  revoked_at TEXT,
  revocation_reason TEXT
);
CREATE INDEX certificates_by_device ON certificates (device_id, not_after);
CREATE INDEX certificates_revoked ON certificates (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE provisioning_templates (
  name TEXT PRIMARY KEY,
  device_classes TEXT,                    -- JSON array, NULL = any
  site TEXT,
  tags TEXT NOT NULL DEFAULT '[]',
  attributes TEXT NOT NULL DEFAULT '{}',
  allowed_serials TEXT,                   -- JSON array, NULL = any
  require_approval INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
);

CREATE TABLE provisioning_claims (
  id TEXT PRIMARY KEY,
  template TEXT NOT NULL REFERENCES provisioning_templates (name) ON DELETE CASCADE,
  kind TEXT NOT NULL,                     -- 'token' | 'certificate'
  token_hash BLOB UNIQUE,                 -- HMAC of the claim token (kind 'token')
  certificate_serial TEXT UNIQUE,         -- kind 'certificate'
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE INDEX provisioning_claims_by_template ON provisioning_claims (template);

-- One row per hardware serial that registered: a second registration is AlreadyProvisioned.
CREATE TABLE provisioned_serials (
  serial TEXT PRIMARY KEY,
  template TEXT NOT NULL,
  device_id TEXT NOT NULL,
  registered_at TEXT NOT NULL
);
CREATE INDEX provisioned_serials_by_device ON provisioned_serials (device_id);

-- Deleting a device revokes its certificates in the same transaction, whoever deletes it, and
-- frees its hardware serial so a wiped device can provision itself again. The time is SQLite's
-- clock: the only one a trigger has.
CREATE TRIGGER certificates_on_device_delete AFTER DELETE ON devices
BEGIN
  UPDATE certificates
     SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), revocation_reason = 'cessationOfOperation'
   WHERE device_id = OLD.id AND kind = 'device' AND revoked_at IS NULL;
  DELETE FROM provisioned_serials WHERE device_id = OLD.id;
END;
