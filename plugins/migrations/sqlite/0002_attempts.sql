-- plugins schema version 2 (SQLite): failed-delivery counts that survive a
-- host restart, so MaxEventAttempts counts every attempt, not just those of
-- the current process. A row exists only while an event has failed and is
-- still being retried.
CREATE TABLE waqtor_plugin_attempts (
    plugin     TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (plugin, event_id)
);
