-- Beneficiaries (UQPAY's object: the person or company and their bank details) and uploaded files.

CREATE TABLE beneficiaries (
    id                     UUID PRIMARY KEY,
    account_id             UUID NOT NULL REFERENCES accounts(id),
    short_reference_id     TEXT NOT NULL CONSTRAINT beneficiaries_short_reference_key UNIQUE,
    entity_type            TEXT NOT NULL CHECK (entity_type IN ('INDIVIDUAL', 'COMPANY')),
    payment_method         TEXT NOT NULL CHECK (payment_method IN ('LOCAL', 'SWIFT')),
    first_name             TEXT,
    last_name              TEXT,
    company_name           TEXT,
    nickname               TEXT,
    email                  TEXT,
    bank_country_code      TEXT NOT NULL,
    account_currency_code  TEXT NOT NULL,
    clearing_system        TEXT,
    bank_details           TEXT NOT NULL,
    address                TEXT,
    additional_info        TEXT,
    status                 TEXT NOT NULL CHECK (status IN ('ACTIVE', 'DELETED')),
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL
);
CREATE INDEX beneficiaries_account ON beneficiaries (account_id, created_at);

CREATE TABLE files (
    id          UUID PRIMARY KEY,
    account_id  UUID NOT NULL REFERENCES accounts(id),
    file_name   TEXT NOT NULL,
    file_type   TEXT NOT NULL,
    size        BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    notes       TEXT,
    content     BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX files_account ON files (account_id, created_at);
