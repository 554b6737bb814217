-- When a key last authenticated (micros; 0 for never), written at most once a
-- minute per key so that busy keys do not write on every request.
ALTER TABLE auth_api_keys ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;
