-- One hold for a whole payout batch: the valid rows' amount plus fee per currency as validated,
-- what the batch still holds for rows not created yet (NULL: each row holds its own), and when
-- the whole batch was held. Totals are JSON objects of minor units per currency.
ALTER TABLE payout_batches ADD COLUMN valid_totals TEXT;
ALTER TABLE payout_batches ADD COLUMN held TEXT;
ALTER TABLE payout_batches ADD COLUMN held_at TIMESTAMPTZ;
