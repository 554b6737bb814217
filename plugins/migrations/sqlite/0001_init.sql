-- plugins schema version 1 (SQLite). Times are Unix microseconds.
CREATE TABLE waqtor_plugin_kv (
    plugin     TEXT NOT NULL,
    key        TEXT NOT NULL,
    tenant_id  TEXT NOT NULL DEFAULT '',
    value      BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (plugin, key)
);

CREATE TABLE waqtor_plugin_dead_letters (
    plugin     TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    event_seq  INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    session_id TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    error      TEXT NOT NULL,
    envelope   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (plugin, event_id)
);
CREATE INDEX waqtor_plugin_dead_letters_seq ON waqtor_plugin_dead_letters (plugin, event_seq);
