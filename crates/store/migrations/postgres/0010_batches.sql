-- Payout batches (files or API lists of payouts), their rows, and the approval policy.

CREATE TABLE payout_batches (
    id                  UUID PRIMARY KEY,
    account_id          UUID NOT NULL REFERENCES accounts(id),
    created_by          UUID,
    file_name           TEXT,
    format              TEXT NOT NULL,
    mode                TEXT NOT NULL,
    content_sha256      TEXT,
    -- The hash while the batch counts as sent (cleared when it is cancelled or refused).
    dedup_sha256        TEXT,
    status              TEXT NOT NULL,
    approval_required   BOOLEAN NOT NULL,
    total_rows          BIGINT NOT NULL DEFAULT 0,
    valid_rows          BIGINT NOT NULL DEFAULT 0,
    invalid_rows        BIGINT NOT NULL DEFAULT 0,
    open_payouts        BIGINT NOT NULL DEFAULT 0,
    failure_code        TEXT,
    failure_reason      TEXT,
    approved_by         UUID,
    approved_at         TIMESTAMPTZ,
    cancelled_by        UUID,
    cancelled_at        TIMESTAMPTZ,
    released_at         TIMESTAMPTZ,
    completed_at        TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX payout_batches_account ON payout_batches (account_id, created_at);
CREATE UNIQUE INDEX payout_batches_same_file ON payout_batches (account_id, dedup_sha256);

CREATE TABLE payout_batch_items (
    batch_id        UUID NOT NULL REFERENCES payout_batches(id),
    row_number      BIGINT NOT NULL,
    status          TEXT NOT NULL,
    currency        TEXT,
    amount          BIGINT,
    payout_reference TEXT,
    payload         TEXT,
    payout_id       UUID,
    error_field     TEXT,
    error_code      TEXT,
    error_message   TEXT,
    PRIMARY KEY (batch_id, row_number)
);
CREATE INDEX payout_batch_items_status ON payout_batch_items (batch_id, status, row_number);

ALTER TABLE payouts ADD COLUMN batch_id UUID;
CREATE INDEX payouts_batch ON payouts (batch_id) WHERE batch_id IS NOT NULL;

CREATE TABLE approval_policies (
    account_id                     UUID PRIMARY KEY REFERENCES accounts(id),
    approval_required_for_batches  BOOLEAN NOT NULL,
    -- {"USD": 1000000, ...}: minor units per currency; rows above need approval.
    payout_approval_thresholds     TEXT NOT NULL,
    updated_by                     UUID,
    updated_at                     TIMESTAMPTZ NOT NULL
);
