-- MQTT sessions (broker/sessions/): what aedes' persistence holds, on disk, so a persistent
-- session (clean session 0) survives a restart or a kill -9. Times are epoch milliseconds.

-- One row per persistent session. `principal_json` is who logged in with this client id, so a
-- message queued while the client is offline obeys the same receive rule as a live delivery.
-- `disconnected_at` is NULL while connected; expiry counts from it.
CREATE TABLE mqtt_sessions (
  client_id       TEXT    PRIMARY KEY,
  principal_json  TEXT,
  disconnected_at INTEGER,
  dropped         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE mqtt_subscriptions (
  client_id TEXT    NOT NULL,
  topic     TEXT    NOT NULL,
  qos       INTEGER NOT NULL,
  options   TEXT,
  PRIMARY KEY (client_id, topic)
) WITHOUT ROWID;

-- Outgoing QoS 1/2 messages of persistent sessions, in delivery order (seq). `message_id` is set
-- once a message was sent (redelivered with DUP on reconnect); `cmd` becomes 'pubrel' after a
-- PUBREC. The payload is kept apart from the header fields to avoid re-encoding it. (aedes' own
-- identity of a message, broker id and counter, lives only as long as the process: after a
-- restart a queued message is known by its seq.)
CREATE TABLE mqtt_outgoing (
  seq        INTEGER PRIMARY KEY,
  client_id  TEXT    NOT NULL,
  cmd        TEXT    NOT NULL,
  topic      TEXT,
  qos        INTEGER NOT NULL,
  retain     INTEGER NOT NULL,
  message_id INTEGER,
  payload    BLOB
);
CREATE INDEX mqtt_outgoing_client ON mqtt_outgoing (client_id, seq);

-- Incoming QoS 2 messages awaiting PUBREL [MQTT-4.3.3].
CREATE TABLE mqtt_incoming (
  client_id   TEXT    NOT NULL,
  message_id  INTEGER NOT NULL,
  packet_json TEXT    NOT NULL,
  payload     BLOB,
  PRIMARY KEY (client_id, message_id)
) WITHOUT ROWID;

CREATE TABLE mqtt_wills (
  client_id   TEXT PRIMARY KEY,
  broker_id   TEXT NOT NULL,
  packet_json TEXT NOT NULL,
  payload     BLOB
);

CREATE TABLE mqtt_retained (
  topic       TEXT PRIMARY KEY,
  packet_json TEXT NOT NULL,
  payload     BLOB NOT NULL
);
