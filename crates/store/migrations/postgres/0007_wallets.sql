-- The stored-value (wallet) payout model: recipients with their own credentials, their transfer
-- methods, payouts into their wallets and withdrawals out of them. Wallet balances themselves are
-- ledger accounts of the client (kind `wallet:<recipient id>`).

CREATE TABLE account_payout_models (
    account_id    UUID PRIMARY KEY REFERENCES accounts(id),
    payout_model  TEXT NOT NULL CHECK (payout_model IN ('bank', 'wallet', 'both')),
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE recipients (
    id                  UUID PRIMARY KEY,
    account_id          UUID NOT NULL REFERENCES accounts(id),
    external_reference  TEXT,
    name                TEXT NOT NULL,
    email               TEXT,
    status              TEXT NOT NULL CHECK (status IN ('ACTIVE', 'DISABLED')),
    created_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT recipients_external_reference_key UNIQUE (account_id, external_reference)
);
CREATE INDEX recipients_account ON recipients (account_id, created_at);

CREATE TABLE recipient_credentials (
    id            UUID PRIMARY KEY,
    recipient_id  UUID NOT NULL REFERENCES recipients(id),
    account_id    UUID NOT NULL REFERENCES accounts(id),
    client_id     TEXT NOT NULL CONSTRAINT recipient_credentials_client_id_key UNIQUE,
    secret_hash   TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ
);

CREATE TABLE recipient_tokens (
    token_hash    TEXT PRIMARY KEY,
    recipient_id  UUID NOT NULL REFERENCES recipients(id),
    account_id    UUID NOT NULL REFERENCES accounts(id),
    expires_at    TIMESTAMPTZ NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

-- A transfer method is stored as a beneficiary of the client (same corridor validation, same
-- payout path); the client's beneficiary list leaves these rows out.
CREATE TABLE recipient_transfer_methods (
    id            UUID PRIMARY KEY REFERENCES beneficiaries(id),
    recipient_id  UUID NOT NULL REFERENCES recipients(id),
    account_id    UUID NOT NULL REFERENCES accounts(id),
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX recipient_transfer_methods_recipient ON recipient_transfer_methods (recipient_id, created_at);

CREATE TABLE wallet_payouts (
    id                  UUID PRIMARY KEY,
    account_id          UUID NOT NULL REFERENCES accounts(id),
    recipient_id        UUID NOT NULL REFERENCES recipients(id),
    short_reference_id  TEXT NOT NULL CONSTRAINT wallet_payouts_short_reference_key UNIQUE,
    currency            TEXT NOT NULL,
    amount              BIGINT NOT NULL CHECK (amount > 0),
    reference           TEXT,
    status              TEXT NOT NULL CHECK (status IN ('COMPLETED')),
    created_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX wallet_payouts_account ON wallet_payouts (account_id, created_at);
CREATE INDEX wallet_payouts_recipient ON wallet_payouts (recipient_id, created_at);

-- A withdrawal is a payout (it follows the payout lifecycle and rails); this row marks it as one
-- and names the wallet its hold came from.
CREATE TABLE wallet_withdrawals (
    payout_id           UUID PRIMARY KEY REFERENCES payouts(id),
    recipient_id        UUID NOT NULL REFERENCES recipients(id),
    account_id          UUID NOT NULL REFERENCES accounts(id),
    transfer_method_id  UUID NOT NULL REFERENCES recipient_transfer_methods(id),
    created_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX wallet_withdrawals_recipient ON wallet_withdrawals (recipient_id, created_at);
