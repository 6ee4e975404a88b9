-- A response that the audit record keeps verbatim (its after_json) is stored once, there: the
-- idempotency record then holds the audit record's id instead of a second copy of the body
-- (~1.5 KB a payout). Audit records are never deleted, so the body outlives every key that
-- points at it.
ALTER TABLE idempotency_keys
    ALTER COLUMN response_body DROP NOT NULL,
    ADD COLUMN audit_id UUID,
    ADD CONSTRAINT idempotency_keys_body_stored CHECK (response_body IS NOT NULL OR audit_id IS NOT NULL);
