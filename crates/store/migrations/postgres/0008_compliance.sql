-- Issue 7: sanctions lists as loaded, the review queue, screening hits, account rules.

CREATE TABLE screening_lists (
    version      BIGINT PRIMARY KEY,
    loaded_at    TIMESTAMPTZ NOT NULL,
    entry_count  BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    sources      JSONB NOT NULL,
    ofac_sdn     BYTEA,
    ofac_alt     BYTEA,
    ofac_add     BYTEA,
    un_xml       BYTEA
);

CREATE TABLE compliance_reviews (
    id              UUID PRIMARY KEY,
    account_id      UUID NOT NULL REFERENCES accounts(id),
    subject_type    TEXT NOT NULL CHECK (subject_type IN ('beneficiary', 'payout')),
    subject_id      UUID NOT NULL,
    beneficiary_id  UUID NOT NULL REFERENCES beneficiaries(id),
    reasons         JSONB NOT NULL,
    list_version    BIGINT,
    status          TEXT NOT NULL CHECK (status IN ('open', 'cleared', 'rejected')),
    reviewed_by     UUID,
    reviewed_at     TIMESTAMPTZ,
    note            TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX compliance_reviews_account ON compliance_reviews (account_id, status, created_at);
CREATE INDEX compliance_reviews_subject ON compliance_reviews (subject_id, created_at);

CREATE TABLE screening_hits (
    id              UUID PRIMARY KEY,
    review_id       UUID NOT NULL REFERENCES compliance_reviews(id),
    account_id      UUID NOT NULL REFERENCES accounts(id),
    subject_type    TEXT NOT NULL,
    subject_id      UUID NOT NULL,
    beneficiary_id  UUID NOT NULL,
    list_version    BIGINT NOT NULL,
    source          TEXT NOT NULL,
    entry_id        TEXT NOT NULL,
    entry_name      TEXT NOT NULL,
    matched_name    TEXT NOT NULL,
    matched_alias   BOOLEAN NOT NULL,
    name_score      BIGINT NOT NULL,
    score           BIGINT NOT NULL CHECK (score BETWEEN 0 AND 1000),
    why             TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX screening_hits_review ON screening_hits (review_id);
CREATE INDEX screening_hits_beneficiary ON screening_hits (beneficiary_id);

CREATE TABLE compliance_rules (
    account_id  UUID PRIMARY KEY REFERENCES accounts(id),
    rules       JSONB NOT NULL,
    updated_by  UUID,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- The rules' daily and monthly totals.
CREATE INDEX payouts_account_currency ON payouts (account_id, currency, created_at);
CREATE INDEX payouts_beneficiary_created ON payouts (beneficiary_id, created_at);
