-- The rows a payout writes no longer check their foreign keys on PostgreSQL. Each check is a
-- trigger running `SELECT 1 ... FOR KEY SHARE` on the parent row: about ten per payout, five of
-- them locking the same `accounts` row of a busy client, and with several nodes those shared
-- locks become MultiXacts. Measured on one hot account over HTTP: +5 to +42 % (median ~+33 %)
-- payouts per second without them (docs/benchmarks.md, session 8).
--
-- Nothing is lost: every parent here is never deleted (accounts, beneficiaries are only marked
-- DELETED, journal entries and payouts are append-only or kept), the writer creates a child only
-- after reading its parent in the same transaction, and `outlay ledger verify` checks every one
-- of these references (decisions.md, "PostgreSQL: no foreign keys on the payout path"). SQLite
-- keeps them: there a check is an index probe inside the process.
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_account_id_fkey;
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_account_id_fkey;
ALTER TABLE journal_lines DROP CONSTRAINT journal_lines_entry_id_fkey;
ALTER TABLE journal_lines DROP CONSTRAINT journal_lines_ledger_account_id_fkey;
ALTER TABLE events DROP CONSTRAINT events_account_id_fkey;
ALTER TABLE payouts DROP CONSTRAINT payouts_account_id_fkey;
ALTER TABLE payouts DROP CONSTRAINT payouts_beneficiary_id_fkey;
ALTER TABLE payout_transitions DROP CONSTRAINT payout_transitions_payout_id_fkey;
