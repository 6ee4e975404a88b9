-- FX: the operator's mid rates, quotes (valid 75 seconds, used at most once) and conversions
-- between an account's own currency balances. Rates are exact decimal strings; amounts are
-- integers in each currency's minor unit; times are Unix milliseconds; dates are YYYY-MM-DD.

CREATE TABLE fx_rates (
    currency_pair  TEXT PRIMARY KEY CHECK (length(currency_pair) = 6),
    rate           TEXT NOT NULL,
    source         TEXT NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE quotes (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    sell_currency     TEXT NOT NULL,
    sell_amount       INTEGER NOT NULL CHECK (sell_amount > 0),
    buy_currency      TEXT NOT NULL,
    buy_amount        INTEGER NOT NULL CHECK (buy_amount > 0),
    -- Which side the client fixed: sell or buy.
    fixed_side        TEXT NOT NULL CHECK (fixed_side IN ('sell', 'buy')),
    mid_rate          TEXT NOT NULL,
    client_rate       TEXT NOT NULL,
    markup_bps        INTEGER NOT NULL,
    transaction_type  TEXT NOT NULL CHECK (transaction_type IN ('conversion', 'payout')),
    conversion_date   TEXT NOT NULL,
    valid_from        INTEGER NOT NULL,
    valid_to          INTEGER NOT NULL,
    used_at           INTEGER,
    used_by           TEXT,
    CONSTRAINT quotes_used CHECK ((used_at IS NULL) = (used_by IS NULL)),
    CONSTRAINT quotes_distinct_currencies CHECK (sell_currency <> buy_currency)
);
CREATE INDEX quotes_account ON quotes (account_id, valid_from);

CREATE TABLE conversions (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    short_reference_id  TEXT NOT NULL CONSTRAINT conversions_short_reference_key UNIQUE,
    quote_id            TEXT NOT NULL CONSTRAINT conversions_quote_key UNIQUE REFERENCES quotes(id),
    sell_currency       TEXT NOT NULL,
    sell_amount         INTEGER NOT NULL CHECK (sell_amount > 0),
    buy_currency        TEXT NOT NULL,
    buy_amount          INTEGER NOT NULL CHECK (buy_amount > 0),
    client_rate         TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('PENDING', 'AWAITING_FUNDS', 'FUNDS_ARRIVED', 'TRADE_SETTLED', 'COMPLETED', 'CANCELED', 'FAILED')),
    conversion_date     TEXT NOT NULL,
    reference           TEXT,
    created_at          INTEGER NOT NULL,
    completed_at        INTEGER
);
CREATE INDEX conversions_account ON conversions (account_id, created_at);
