-- Staged rollouts (broker/rollouts/README.md): the rollout scheduler's state beside its job, so a
-- restarted broker resumes waves, admissions, partial downloads and learned rates. Times are epoch
-- milliseconds.

-- `config_json` is what the scheduler was built from (targets with their sites and links, sites,
-- firmware size, the job's rollout/abort/schedule), fixed when the rollout starts; `state_json`
-- is `RolloutScheduler.toJSON()`, rewritten after every tick that changed something.
CREATE TABLE rollouts (
  job_id      TEXT    PRIMARY KEY,
  config_json TEXT    NOT NULL,
  state_json  TEXT    NOT NULL,
  phase       TEXT    NOT NULL,
  updated_at  INTEGER NOT NULL
);

-- A site's own maintenance windows (`PUT /api/v1/sites/{id}/windows`), evaluated in the site's
-- time zone: they apply to its devices unless a device carries windows of its own.
CREATE TABLE rollout_site_windows (
  site_id      TEXT    PRIMARY KEY,
  windows_json TEXT    NOT NULL,
  updated_at   INTEGER NOT NULL
);
