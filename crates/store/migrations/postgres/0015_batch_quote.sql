-- One FX quote locked for a whole payout batch: the quote (used by the batch) and its client rate,
-- applied to every cross-currency row of the quote's pair when the batch is released.
ALTER TABLE payout_batches ADD COLUMN quote_id UUID REFERENCES quotes(id);
ALTER TABLE payout_batches ADD COLUMN client_rate TEXT;
