-- webhook schema version 1 (SQLite). Times are Unix microseconds of the
-- webhook service's clock.
CREATE TABLE waqtor_webhook_endpoints (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    url              TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    events           TEXT NOT NULL,
    sessions         TEXT NOT NULL,
    headers          TEXT NOT NULL,
    secret           TEXT NOT NULL,
    old_secret       TEXT NOT NULL DEFAULT '',
    old_secret_until INTEGER NOT NULL DEFAULT 0,
    enabled          INTEGER NOT NULL,
    disabled_reason  TEXT NOT NULL DEFAULT '',
    retry            TEXT NOT NULL,
    timeout_ms       INTEGER NOT NULL,
    fifo             INTEGER NOT NULL DEFAULT 0,
    from_seq         INTEGER NOT NULL,
    failing_since    INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX waqtor_webhook_endpoints_tenant ON waqtor_webhook_endpoints (tenant_id, id);

CREATE TABLE waqtor_webhook_deliveries (
    id          TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    event_seq   INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    tries       INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX waqtor_webhook_deliveries_event ON waqtor_webhook_deliveries (endpoint_id, event_id);
CREATE INDEX waqtor_webhook_deliveries_due ON waqtor_webhook_deliveries (endpoint_id, next_at) WHERE state = 'pending';
CREATE INDEX waqtor_webhook_deliveries_fifo ON waqtor_webhook_deliveries (endpoint_id, event_seq) WHERE state = 'pending';
CREATE INDEX waqtor_webhook_deliveries_list ON waqtor_webhook_deliveries (endpoint_id, id);

CREATE TABLE waqtor_webhook_attempts (
    delivery_id        TEXT NOT NULL,
    n                  INTEGER NOT NULL,
    endpoint_id        TEXT NOT NULL,
    tenant_id          TEXT NOT NULL,
    due_at             INTEGER NOT NULL,
    started_at         INTEGER NOT NULL,
    latency_us         INTEGER NOT NULL,
    status_code        INTEGER NOT NULL,
    error              TEXT NOT NULL DEFAULT '',
    response_body      TEXT NOT NULL DEFAULT '',
    response_truncated INTEGER NOT NULL DEFAULT 0,
    webhook_timestamp  INTEGER NOT NULL,
    next_at            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (delivery_id, n)
);
CREATE INDEX waqtor_webhook_attempts_endpoint ON waqtor_webhook_attempts (endpoint_id, started_at);
