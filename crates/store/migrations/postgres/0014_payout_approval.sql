-- Maker-checker for single payouts: a payout above the account's approval threshold waits
-- (AWAITING_APPROVAL, funds held) until a credential other than its creator approves it.
-- created_by: the API credential that created the payout (NULL for batch rows and older rows).

ALTER TABLE payouts ADD COLUMN created_by UUID;
ALTER TABLE payouts ADD COLUMN approved_by UUID;
ALTER TABLE payouts ADD COLUMN approved_at TIMESTAMPTZ;

CREATE INDEX payouts_awaiting_approval ON payouts (account_id, created_at) WHERE state = 'AWAITING_APPROVAL';
