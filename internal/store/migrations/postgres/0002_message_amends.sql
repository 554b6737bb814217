-- waqtor schema version 2 (PostgreSQL): edits and revocations recorded on the
-- message they change, and the fingerprint of the request an idempotency key
-- was first used with. Times are Unix microseconds; 0 is "never".
ALTER TABLE waqtor_messages ADD COLUMN edited_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE waqtor_messages ADD COLUMN revoked_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE waqtor_messages ADD COLUMN request_hash TEXT NOT NULL DEFAULT '';
