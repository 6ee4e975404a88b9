-- Webhook endpoints and the deliveries of events to them. Times are Unix milliseconds.

-- The secret signs every delivery, so it is stored as issued (encryption at rest comes with the
-- compliance work, issue 7). event_types is a JSON array of event types; '[]' means all.
CREATE TABLE webhook_endpoints (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    url          TEXT NOT NULL,
    secret       TEXT NOT NULL,
    event_types  TEXT NOT NULL DEFAULT '[]',
    status       TEXT NOT NULL CHECK (status IN ('ACTIVE', 'DELETED')),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id) WHERE status = 'ACTIVE';

-- One row per (event, endpoint, generation): generation 0 is written with the event, in its
-- transaction; each replay adds the next generation. account_id is the endpoint's owner.
CREATE TABLE webhook_deliveries (
    id                TEXT PRIMARY KEY,
    event_id          TEXT NOT NULL REFERENCES events(id),
    endpoint_id       TEXT NOT NULL REFERENCES webhook_endpoints(id),
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    generation        INTEGER NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER NOT NULL,
    lease_until       INTEGER,
    first_attempt_at  INTEGER,
    last_attempt_at   INTEGER,
    last_status_code  INTEGER,
    last_error        TEXT,
    created_at        INTEGER NOT NULL,
    delivered_at      INTEGER,
    CONSTRAINT webhook_deliveries_once UNIQUE (event_id, endpoint_id, generation)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_account ON webhook_deliveries (account_id, created_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id) WHERE status = 'pending';
