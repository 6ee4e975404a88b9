-- Accounts, credentials, tokens, idempotency, the ledger, deposits, withdrawals, the outbox.
-- Times are Unix milliseconds; amounts are integers in the currency's minor unit.

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    parent_id     TEXT REFERENCES accounts(id),
    kind          TEXT NOT NULL CHECK (kind IN ('platform', 'connected')),
    status        TEXT NOT NULL DEFAULT 'ACTIVE',
    bank_account  TEXT,
    created_at    INTEGER NOT NULL,
    CONSTRAINT accounts_parent_kind CHECK ((kind = 'platform') = (parent_id IS NULL))
);
CREATE INDEX accounts_parent ON accounts (parent_id);

CREATE TABLE credentials (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    client_id    TEXT NOT NULL CONSTRAINT credentials_client_id_key UNIQUE,
    secret_hash  TEXT NOT NULL,
    role         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);

CREATE TABLE auth_tokens (
    token_hash     TEXT PRIMARY KEY,
    credential_id  TEXT NOT NULL REFERENCES credentials(id),
    account_id     TEXT NOT NULL REFERENCES accounts(id),
    expires_at     INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX auth_tokens_expiry ON auth_tokens (expires_at);

CREATE TABLE idempotency_keys (
    account_id     TEXT NOT NULL REFERENCES accounts(id),
    key            TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    status_code    INTEGER NOT NULL,
    response_body  TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Client-owned accounts carry a balance that conditional updates keep >= 0. Platform accounts
-- (owner 'platform') keep balance 0: their balance is the sum of their lines, so no single row
-- is written by every movement of every client.
CREATE TABLE ledger_accounts (
    id          INTEGER PRIMARY KEY,
    owner_id    TEXT NOT NULL,
    currency    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    balance     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CONSTRAINT ledger_accounts_key UNIQUE (owner_id, currency, kind),
    CONSTRAINT ledger_accounts_client_non_negative CHECK (owner_id = 'platform' OR balance >= 0)
);

CREATE TABLE ledger_chains (
    account_id  TEXT PRIMARY KEY REFERENCES accounts(id),
    seq         INTEGER NOT NULL,
    head_hash   TEXT NOT NULL
);

CREATE TABLE journal_entries (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    seq             INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    reference_type  TEXT NOT NULL,
    reference_id    TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL,
    CONSTRAINT journal_entries_chain UNIQUE (account_id, seq)
);
CREATE INDEX journal_entries_reference ON journal_entries (reference_type, reference_id);
CREATE INDEX journal_entries_created ON journal_entries (account_id, created_at);

CREATE TABLE journal_lines (
    entry_id           TEXT NOT NULL REFERENCES journal_entries(id),
    line_no            INTEGER NOT NULL,
    ledger_account_id  INTEGER NOT NULL REFERENCES ledger_accounts(id),
    amount             INTEGER NOT NULL CHECK (amount <> 0),
    PRIMARY KEY (entry_id, line_no)
) WITHOUT ROWID;
CREATE INDEX journal_lines_account ON journal_lines (ledger_account_id);

-- The journal is append-only.
CREATE TRIGGER journal_entries_no_update BEFORE UPDATE ON journal_entries
BEGIN SELECT RAISE(ABORT, 'journal_entries is append-only'); END;
CREATE TRIGGER journal_entries_no_delete BEFORE DELETE ON journal_entries
BEGIN SELECT RAISE(ABORT, 'journal_entries is append-only'); END;
CREATE TRIGGER journal_lines_no_update BEFORE UPDATE ON journal_lines
BEGIN SELECT RAISE(ABORT, 'journal_lines is append-only'); END;
CREATE TRIGGER journal_lines_no_delete BEFORE DELETE ON journal_lines
BEGIN SELECT RAISE(ABORT, 'journal_lines is append-only'); END;

CREATE TABLE deposits (
    id                       TEXT PRIMARY KEY,
    account_id               TEXT NOT NULL REFERENCES accounts(id),
    short_reference_id       TEXT NOT NULL CONSTRAINT deposits_short_reference_key UNIQUE,
    currency                 TEXT NOT NULL,
    amount                   INTEGER NOT NULL CHECK (amount > 0),
    fee                      INTEGER NOT NULL DEFAULT 0,
    status                   TEXT NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED')),
    receiver_account_number  TEXT,
    deposit_reference        TEXT,
    sender_name              TEXT,
    sender_country           TEXT,
    sender_account_number    TEXT,
    sender_swift_code        TEXT,
    source                   TEXT NOT NULL,
    created_at               INTEGER NOT NULL,
    completed_at             INTEGER
);
CREATE INDEX deposits_account ON deposits (account_id, created_at);
CREATE INDEX deposits_pending ON deposits (created_at) WHERE status = 'PENDING';

CREATE TABLE withdrawals (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts(id),
    short_reference_id   TEXT NOT NULL CONSTRAINT withdrawals_short_reference_key UNIQUE,
    currency             TEXT NOT NULL,
    amount               INTEGER NOT NULL CHECK (amount > 0),
    fee                  INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED')),
    reference            TEXT,
    bank_account_holder  TEXT NOT NULL,
    bank_account_last4   TEXT NOT NULL,
    bank_country_code    TEXT NOT NULL,
    failure_reason       TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    completed_at         INTEGER
);
CREATE INDEX withdrawals_account ON withdrawals (account_id, created_at);
CREATE INDEX withdrawals_pending ON withdrawals (created_at) WHERE status = 'PENDING';

-- Outgoing events (the outbox), written in the transaction that caused them.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    event_name  TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    object_seq  INTEGER NOT NULL,
    data        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    CONSTRAINT events_object_seq UNIQUE (source_id, object_seq)
);
CREATE INDEX events_account ON events (account_id, created_at);
