-- waqtor schema version 1 (PostgreSQL). Times are Unix microseconds.
CREATE TABLE waqtor_sessions (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    status        TEXT NOT NULL,
    status_reason TEXT NOT NULL DEFAULT '',
    jid           TEXT NOT NULL DEFAULT '',
    lid           TEXT NOT NULL DEFAULT '',
    push_name     TEXT NOT NULL DEFAULT '',
    platform      TEXT NOT NULL DEFAULT '',
    ban_expires   BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX waqtor_sessions_tenant ON waqtor_sessions (tenant_id, id);

CREATE TABLE waqtor_messages (
    session_id      TEXT NOT NULL,
    chat            TEXT NOT NULL,
    id              TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    direction       TEXT NOT NULL,
    chat_lid        TEXT NOT NULL DEFAULT '',
    sender          TEXT NOT NULL DEFAULT '',
    sender_lid      TEXT NOT NULL DEFAULT '',
    push_name       TEXT NOT NULL DEFAULT '',
    type            TEXT NOT NULL,
    content         TEXT NOT NULL,
    status          TEXT NOT NULL,
    error           TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    ts              BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (session_id, chat, id)
);
CREATE INDEX waqtor_messages_id ON waqtor_messages (session_id, id);
CREATE UNIQUE INDEX waqtor_messages_idem ON waqtor_messages (session_id, idempotency_key);
CREATE INDEX waqtor_messages_pending ON waqtor_messages (session_id, status, created_at);
CREATE INDEX waqtor_messages_chat ON waqtor_messages (session_id, chat, ts);

CREATE TABLE waqtor_outbox_media (
    session_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    data       BYTEA NOT NULL,
    PRIMARY KEY (session_id, message_id)
);

CREATE TABLE waqtor_log_counter (
    id  BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO waqtor_log_counter (id, seq) VALUES (1, 0);

CREATE TABLE waqtor_event_log (
    seq        BIGINT PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    tenant_id  TEXT NOT NULL,
    session_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    ts         BIGINT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX waqtor_event_log_ts ON waqtor_event_log (ts);

CREATE TABLE waqtor_cursors (
    name       TEXT PRIMARY KEY,
    seq        BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
