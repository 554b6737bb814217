CREATE TABLE auth_api_keys (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    sessions   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);
CREATE INDEX auth_api_keys_tenant ON auth_api_keys (tenant_id, created_at);
