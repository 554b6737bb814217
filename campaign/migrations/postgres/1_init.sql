-- campaign schema version 1 (PostgreSQL). Times are Unix microseconds of the
-- campaign service's clock; 0 means unset.
CREATE TABLE waqtor_campaigns (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    state         TEXT NOT NULL,
    state_reason  TEXT NOT NULL DEFAULT '',
    sessions      TEXT NOT NULL,
    content       TEXT NOT NULL,
    variables     TEXT NOT NULL,
    pacing        TEXT NOT NULL,
    time_zone     TEXT NOT NULL,
    check_numbers BIGINT NOT NULL DEFAULT 0,
    schedule_at   BIGINT NOT NULL DEFAULT 0,
    resume_at     BIGINT NOT NULL DEFAULT 0,
    recent        TEXT NOT NULL DEFAULT '',
    var_counts    TEXT NOT NULL DEFAULT '{}',
    n_total       BIGINT NOT NULL DEFAULT 0,
    n_pending     BIGINT NOT NULL DEFAULT 0,
    n_sent        BIGINT NOT NULL DEFAULT 0,
    n_delivered   BIGINT NOT NULL DEFAULT 0,
    n_read        BIGINT NOT NULL DEFAULT 0,
    n_failed      BIGINT NOT NULL DEFAULT 0,
    n_skipped     BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    started_at    BIGINT NOT NULL DEFAULT 0,
    finished_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX waqtor_campaigns_tenant ON waqtor_campaigns (tenant_id, id);
CREATE INDEX waqtor_campaigns_state ON waqtor_campaigns (state);

CREATE TABLE waqtor_campaign_transitions (
    campaign_id TEXT NOT NULL,
    at          BIGINT NOT NULL,
    n           BIGINT NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (campaign_id, n)
);

CREATE TABLE waqtor_campaign_recipients (
    campaign_id  TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    phone        TEXT NOT NULL,
    chat         TEXT NOT NULL DEFAULT '',
    dedupe       TEXT,
    variables    TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    detail       TEXT NOT NULL DEFAULT '',
    session_id   TEXT NOT NULL DEFAULT '',
    message_id   TEXT NOT NULL DEFAULT '',
    rendered     TEXT NOT NULL DEFAULT '',
    claim_owner  TEXT NOT NULL DEFAULT '',
    claim_until  BIGINT NOT NULL DEFAULT 0,
    claimed_at   BIGINT NOT NULL DEFAULT 0,
    sent_at      BIGINT NOT NULL DEFAULT 0,
    delivered_at BIGINT NOT NULL DEFAULT 0,
    read_at      BIGINT NOT NULL DEFAULT 0,
    replied_at   BIGINT NOT NULL DEFAULT 0,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, seq)
);
CREATE UNIQUE INDEX waqtor_campaign_recipients_dedupe ON waqtor_campaign_recipients (campaign_id, dedupe);
CREATE INDEX waqtor_campaign_recipients_state ON waqtor_campaign_recipients (campaign_id, state, seq);
CREATE INDEX waqtor_campaign_recipients_message ON waqtor_campaign_recipients (message_id) WHERE message_id <> '';
CREATE INDEX waqtor_campaign_recipients_phone ON waqtor_campaign_recipients (phone, sent_at);

CREATE TABLE waqtor_campaign_senders (
    session_key TEXT PRIMARY KEY,
    state       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
