-- payouts_beneficiary (beneficiary_id) is a prefix of payouts_beneficiary_created
-- (beneficiary_id, created_at), which serves every lookup it served; one b-tree fewer to write
-- on each payout insert.
DROP INDEX IF EXISTS payouts_beneficiary;
