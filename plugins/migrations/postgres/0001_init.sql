-- plugins schema version 1 (PostgreSQL). Times are Unix microseconds.
CREATE TABLE waqtor_plugin_kv (
    plugin     TEXT NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    tenant_id  TEXT NOT NULL DEFAULT '',
    value      BYTEA NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (plugin, key)
);

CREATE TABLE waqtor_plugin_dead_letters (
    plugin     TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    event_seq  BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    session_id TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    attempts   BIGINT NOT NULL,
    error      TEXT NOT NULL,
    envelope   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (plugin, event_id)
);
CREATE INDEX waqtor_plugin_dead_letters_seq ON waqtor_plugin_dead_letters (plugin, event_seq);
