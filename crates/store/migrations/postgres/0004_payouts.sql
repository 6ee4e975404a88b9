-- Payouts and the history of their states.

CREATE TABLE payouts (
    id                       UUID PRIMARY KEY,
    account_id               UUID NOT NULL REFERENCES accounts(id),
    short_reference_id       TEXT NOT NULL CONSTRAINT payouts_short_reference_key UNIQUE,
    unique_request_id        TEXT,
    currency                 TEXT NOT NULL,
    amount                   BIGINT NOT NULL CHECK (amount > 0),
    fee_amount               BIGINT NOT NULL CHECK (fee_amount >= 0),
    fee_paid_by              TEXT,
    payout_currency          TEXT NOT NULL,
    payout_amount            BIGINT NOT NULL CHECK (payout_amount > 0),
    quote_id                 UUID,
    client_rate              TEXT,
    purpose_code             TEXT NOT NULL,
    payout_reference         TEXT NOT NULL,
    payout_date              DATE NOT NULL,
    payment_method           TEXT NOT NULL,
    clearing_system          TEXT,
    beneficiary_id           UUID NOT NULL REFERENCES beneficiaries(id),
    beneficiary              TEXT NOT NULL,
    payer                    TEXT,
    documentation            TEXT NOT NULL,
    state                    TEXT NOT NULL,
    failure_reason           TEXT,
    failure_returned_amount  BIGINT NOT NULL DEFAULT 0,
    created_at               TIMESTAMPTZ NOT NULL,
    updated_at               TIMESTAMPTZ NOT NULL,
    completed_at             TIMESTAMPTZ
);
CREATE INDEX payouts_account ON payouts (account_id, created_at);
CREATE INDEX payouts_beneficiary ON payouts (beneficiary_id);
CREATE INDEX payouts_open ON payouts (state, payout_date) WHERE state IN ('SCHEDULED', 'READY_TO_SEND', 'SENT');

CREATE TABLE payout_transitions (
    payout_id   UUID NOT NULL REFERENCES payouts(id),
    seq         INTEGER NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    reason      TEXT,
    at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (payout_id, seq)
);
