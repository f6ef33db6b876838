-- Jobs (broker/jobs/README.md): one row per job, one per execution (job × device), and the
-- devices a job matched but cannot run on. Times are epoch milliseconds.

-- The definition (what the operator asked for, fixed at creation) is one JSON document; the
-- columns beside it are what listings filter on and what changes.
CREATE TABLE jobs (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  id              TEXT    NOT NULL UNIQUE,
  type            TEXT    NOT NULL CHECK (type IN ('firmware', 'config', 'custom')),
  status          TEXT    NOT NULL CHECK (status IN ('SCHEDULED', 'IN_PROGRESS', 'PAUSED', 'COMPLETED', 'CANCELED', 'ABORTED')),
  firmware_id     TEXT,
  continuous      INTEGER NOT NULL,
  definition_json TEXT    NOT NULL,
  reason          TEXT,
  force_canceled  INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  completed_at    INTEGER
);
CREATE INDEX jobs_by_status ON jobs (status, seq);
CREATE INDEX jobs_by_firmware ON jobs (firmware_id, status);

-- `seq` is the queue order: a device runs its queued executions in creation order. No foreign
-- key to devices: an execution outlives its device's deletion (it is marked REMOVED).
CREATE TABLE job_executions (
  seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id               TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  device_id            TEXT    NOT NULL,
  status               TEXT    NOT NULL CHECK (status IN ('QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT', 'CANCELED', 'REMOVED')),
  version_number       INTEGER NOT NULL,
  attempt              INTEGER NOT NULL,
  status_details       TEXT,
  progress             TEXT,
  queued_at            INTEGER NOT NULL,
  started_at           INTEGER,
  updated_at           INTEGER NOT NULL,
  completed_at         INTEGER,
  admitted_at          INTEGER,
  step_deadline        INTEGER,
  in_progress_deadline INTEGER,
  -- The earlier of the two timers (broker/jobs/timeouts.ts), kept for the timeout sweep's index.
  deadline             INTEGER,
  bytes_delivered      INTEGER NOT NULL DEFAULT 0,
  UNIQUE (job_id, device_id)
);
-- The next pending execution per device: its in-progress one, else its first admitted queued one.
CREATE INDEX job_executions_pending ON job_executions (device_id, seq)
  WHERE status IN ('QUEUED', 'IN_PROGRESS') AND admitted_at IS NOT NULL;
CREATE INDEX job_executions_by_device ON job_executions (device_id, seq);
-- Counts per status (covering), listings by status, and "is anything left" for completion.
CREATE INDEX job_executions_by_job ON job_executions (job_id, status, admitted_at);
-- What the scheduler may admit next, in queue order.
CREATE INDEX job_executions_waiting ON job_executions (job_id, seq)
  WHERE status = 'QUEUED' AND admitted_at IS NULL;
CREATE INDEX job_executions_deadline ON job_executions (deadline)
  WHERE status = 'IN_PROGRESS' AND deadline IS NOT NULL;

-- Devices a job matched but will not run on: a firmware job's devices of another class.
CREATE TABLE job_exclusions (
  job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  device_id    TEXT NOT NULL,
  reason       TEXT NOT NULL CHECK (reason IN ('incompatible')),
  device_class TEXT,
  PRIMARY KEY (job_id, device_id)
) WITHOUT ROWID;
