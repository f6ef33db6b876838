-- Rotating the broker's own firmware signing key (broker/firmware/keys.ts): the key it replaced
-- stays trusted until everything it signed has expired, then retires by itself at `retires_at`
-- (ISO 8601). NULL for every other key; `retired_at` is still an operator's explicit retirement.
ALTER TABLE firmware_keys ADD COLUMN retires_at TEXT;
