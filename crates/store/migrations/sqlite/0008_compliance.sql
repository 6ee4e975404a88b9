-- Issue 7: sanctions lists as loaded, the review queue, screening hits, account rules.

CREATE TABLE screening_lists (
    version      INTEGER PRIMARY KEY,
    loaded_at    INTEGER NOT NULL,
    entry_count  INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    sources      TEXT NOT NULL,
    ofac_sdn     BLOB,
    ofac_alt     BLOB,
    ofac_add     BLOB,
    un_xml       BLOB
);

CREATE TABLE compliance_reviews (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    subject_type    TEXT NOT NULL CHECK (subject_type IN ('beneficiary', 'payout')),
    subject_id      TEXT NOT NULL,
    beneficiary_id  TEXT NOT NULL REFERENCES beneficiaries(id),
    reasons         TEXT NOT NULL,
    list_version    INTEGER,
    status          TEXT NOT NULL CHECK (status IN ('open', 'cleared', 'rejected')),
    reviewed_by     TEXT,
    reviewed_at     INTEGER,
    note            TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX compliance_reviews_account ON compliance_reviews (account_id, status, created_at);
CREATE INDEX compliance_reviews_subject ON compliance_reviews (subject_id, created_at);

CREATE TABLE screening_hits (
    id              TEXT PRIMARY KEY,
    review_id       TEXT NOT NULL REFERENCES compliance_reviews(id),
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    subject_type    TEXT NOT NULL,
    subject_id      TEXT NOT NULL,
    beneficiary_id  TEXT NOT NULL,
    list_version    INTEGER NOT NULL,
    source          TEXT NOT NULL,
    entry_id        TEXT NOT NULL,
    entry_name      TEXT NOT NULL,
    matched_name    TEXT NOT NULL,
    matched_alias   INTEGER NOT NULL,
    name_score      INTEGER NOT NULL,
    score           INTEGER NOT NULL CHECK (score BETWEEN 0 AND 1000),
    why             TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX screening_hits_review ON screening_hits (review_id);
CREATE INDEX screening_hits_beneficiary ON screening_hits (beneficiary_id);

CREATE TABLE compliance_rules (
    account_id  TEXT PRIMARY KEY REFERENCES accounts(id),
    rules       TEXT NOT NULL,
    updated_by  TEXT,
    updated_at  INTEGER NOT NULL
);

-- The rules' daily and monthly totals.
CREATE INDEX payouts_account_currency ON payouts (account_id, currency, created_at);
CREATE INDEX payouts_beneficiary_created ON payouts (beneficiary_id, created_at);
