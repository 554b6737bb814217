-- waqtor schema version 3 (SQLite): the consent registry. waqtor_consent holds
-- each tenant's current consent per contact and scope; waqtor_consent_history
-- every change, append-only. Contacts are E.164 numbers ("+201001234567"), or
-- "<digits>@lid" when only a LID is known. Times are Unix microseconds.
CREATE TABLE waqtor_consent (
    tenant_id  TEXT NOT NULL,
    contact    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    status     TEXT NOT NULL,
    previous   TEXT NOT NULL DEFAULT '',
    source     TEXT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    session_id TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, contact, scope)
);
CREATE INDEX waqtor_consent_status ON waqtor_consent (tenant_id, status, contact, scope);

CREATE TABLE waqtor_consent_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT NOT NULL,
    contact    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    status     TEXT NOT NULL,
    previous   TEXT NOT NULL DEFAULT '',
    source     TEXT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    session_id TEXT NOT NULL DEFAULT '',
    ts         INTEGER NOT NULL
);
CREATE INDEX waqtor_consent_history_contact ON waqtor_consent_history (tenant_id, contact, id);
