-- webhook schema version 2 (SQLite): the optional GitHub-style
-- X-Hub-Signature-256 header, per endpoint.
ALTER TABLE waqtor_webhook_endpoints ADD COLUMN hub_signature INTEGER NOT NULL DEFAULT 0;
