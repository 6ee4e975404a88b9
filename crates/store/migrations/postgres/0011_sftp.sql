-- The embedded SFTP server: the public keys that may log in as an account, and every file a
-- client dropped (so a restart finishes what was received and nothing is processed twice).

CREATE TABLE sftp_keys (
    id           UUID PRIMARY KEY,
    account_id   UUID NOT NULL REFERENCES accounts(id),
    public_key   TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);
CREATE UNIQUE INDEX sftp_keys_fingerprint_key ON sftp_keys (fingerprint) WHERE revoked_at IS NULL;
CREATE INDEX sftp_keys_account ON sftp_keys (account_id, created_at);

CREATE TABLE sftp_files (
    id           UUID PRIMARY KEY,
    account_id   UUID NOT NULL REFERENCES accounts(id),
    kind         TEXT NOT NULL CHECK (kind IN ('payments', 'onboarding')),
    name         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL CHECK (size >= 0),
    status       TEXT NOT NULL CHECK (status IN ('received', 'accepted', 'refused', 'completed')),
    batch_id     UUID,
    detail       TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX sftp_files_content ON sftp_files (account_id, kind, sha256);
CREATE INDEX sftp_files_open ON sftp_files (status) WHERE status IN ('received', 'accepted');
