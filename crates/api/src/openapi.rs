//! `GET /api/openapi.json`: the endpoints this build serves.

use axum::Json;
use serde_json::{Value, json};

fn op(summary: &str, tag: &str, mutating: bool) -> Value {
    let mut parameters =
        vec![json!({"name": "x-auth-token", "in": "header", "required": true, "schema": {"type": "string"}})];
    parameters.push(json!({"name": "x-on-behalf-of", "in": "header", "required": false, "schema": {"type": "string", "format": "uuid"}}));
    if mutating {
        parameters.push(json!({"name": "x-idempotency-key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 64}}));
    }
    json!({
        "summary": summary,
        "tags": [tag],
        "parameters": parameters,
        "responses": {
            "200": {"description": "OK"},
            "400": {"$ref": "#/components/responses/Error"},
            "401": {"$ref": "#/components/responses/Error"}
        }
    })
}

pub async fn spec() -> Json<Value> {
    Json(json!({
        "openapi": "3.1.0",
        "info": {"title": "Outlay API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "UQPAY v1.6 Global Account API on the wire, plus Outlay's own resources."},
        "paths": {
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "OK"}}}},
            "/readyz": {"get": {"summary": "Readiness (database reachable)", "responses": {"200": {"description": "OK"}}}},
            "/api/v1/connect/token": {"post": {
                "summary": "Issue an access token (30 minutes)", "tags": ["auth"],
                "parameters": [
                    {"name": "x-client-id", "in": "header", "required": true, "schema": {"type": "string"}},
                    {"name": "x-api-key", "in": "header", "required": true, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "{auth_token, expired_at}"}, "401": {"$ref": "#/components/responses/Error"}}
            }},
            "/api/v1/accounts": {"get": op("List connected accounts", "accounts", false)},
            "/api/v1/balances": {"get": op("List balances (Unified Balance per currency)", "balances", false)},
            "/api/v1/balances/{currency}": {"get": op("Retrieve the balance of one currency", "balances", false)},
            "/api/v1/balances/transactions": {"get": op("List ledger transactions", "balances", false)},
            "/api/v1/deposit": {"get": op("List deposits", "deposits", false)},
            "/api/v1/deposit/{id}": {"get": op("Retrieve a deposit", "deposits", false)},
            "/api/v1/withdrawals": {"get": op("List withdrawals", "withdrawals", false),
                                    "post": op("Withdraw available funds to the designated bank account (x-idempotency-key required)", "withdrawals", true)},
            "/api/v1/withdrawals/{id}": {"get": op("Retrieve a withdrawal", "withdrawals", false)},
            "/api/v1/conversion/quote": {"post": op("Create a quote: one fixed side (sell_amount or buy_amount), transaction_type conversion or payout, valid 75 seconds, used once", "fx", true)},
            "/api/v1/conversion": {"get": op("List conversions (conversion_status, sell_currency, buy_currency, start_time, end_time)", "fx", false),
                                   "post": op("Convert between the account's own currency balances with a conversion quote (x-idempotency-key required)", "fx", true)},
            "/api/v1/conversion/{id}": {"get": op("Retrieve a conversion", "fx", false)},
            "/api/v1/exchange/rates": {"get": op("Indicative buy and sell prices, markup included (currency_pairs=USDEUR,GBPUSD)", "fx", false)},
            "/api/v1/simulation/deposit": {"post": op("Sandbox: simulate an incoming deposit", "simulation", true)},
            "/api/v1/simulation/deposit/{id}": {"post": op("Sandbox: force a pending deposit to COMPLETED or FAILED", "simulation", true)},
            "/api/v1/simulation/withdrawals/{id}": {"post": op("Sandbox: force a pending withdrawal to COMPLETED or FAILED", "simulation", true)},
            "/api/v1/simulation/payouts/{id}": {"post": op("Sandbox: force a payout to PENDING, COMPLETED, FAILED, REJECTED or RETURNED (steps through SENT as a rail would)", "simulation", false)},
            "/api/v1/reports": {"get": op("List reports (newest first)", "reports", false),
                                "post": op("Ask for a report {kind: payouts|balance_statement|fees|reconciliation, from, to}: 201 PENDING, written in the background", "reports", true)},
            "/api/v1/reports/{id}": {"get": op("Retrieve a report's status (PENDING, READY, FAILED), row count and SHA-256", "reports", false)},
            "/api/v1/reports/{id}/download": {"get": op("Download a READY report as text/csv", "reports", false)},
            "/api/v1/payouts": {"get": op("List payouts (payout_status, outlay_status, currency, beneficiary_id, start_time, end_time)", "payouts", false),
                                "post": op("Create a payout (x-idempotency-key required): holds amount plus fee; every UQPAY field rule", "payouts", true)},
            "/api/v1/payouts/{id}": {"get": op("Retrieve a payout with its fees, conversion, beneficiary snapshot and status history", "payouts", false)},
            "/api/v1/payouts/{id}/cancel": {"post": op("Cancel a payout that has not been sent; releases its hold", "payouts", true)},
            "/api/v1/payouts/{id}/approve": {"post": op("Approve a payout AWAITING_APPROVAL (above the account's threshold; admin or approver, not its creator): on to READY_TO_SEND, SCHEDULED or IN_REVIEW", "payouts", true)},
            "/api/v1/payouts/{id}/reject_approval": {"post": op("Decline a payout AWAITING_APPROVAL (admin or approver): CANCELLED, its hold released", "payouts", true)},
            "/api/v1/beneficiaries": {"get": op("List beneficiaries (currency, country, entity_type, payment_method)", "beneficiaries", false),
                                      "post": op("Create a beneficiary, validated against its corridor", "beneficiaries", true)},
            "/api/v1/beneficiaries/{id}": {"get": op("Retrieve a beneficiary", "beneficiaries", false),
                                           "post": op("Update a beneficiary (entity_type cannot change)", "beneficiaries", true)},
            "/api/v1/beneficiaries/{id}/delete": {"post": op("Delete a beneficiary (payouts keep their snapshot)", "beneficiaries", true)},
            "/api/v1/beneficiaries/check": {"post": op("Check beneficiary bank details without storing them", "beneficiaries", false)},
            "/api/v1/beneficiaries/paymentmethods": {"get": op("Payment methods, clearing systems and required fields per corridor (currency, country)", "beneficiaries", false)},
            "/api/v1/accounts/payout_model": {"get": op("The account's payout model: bank (default), wallet or both", "wallets", false),
                                              "post": op("Set the payout model {payout_model: bank|wallet|both}", "wallets", true)},
            "/api/v1/recipients": {"get": op("List recipients (stored-value model)", "wallets", false),
                                   "post": op("Create a recipient {name, email, external_reference}; returns its client_id and api_key once", "wallets", true)},
            "/api/v1/recipients/{id}": {"get": op("Retrieve a recipient with its wallet balances", "wallets", false)},
            "/api/v1/wallet_payouts": {"get": op("List payouts into wallets (recipient_id)", "wallets", false),
                                       "post": op("Pay into a recipient's wallet from the available balance (x-idempotency-key required)", "wallets", true)},
            "/api/v1/wallet_payouts/{id}": {"get": op("Retrieve a wallet payout", "wallets", false)},
            "/api/v1/recipient/access_token": {"post": {
                "summary": "Recipient API: issue a recipient token (30 minutes), valid only on /api/v1/recipient/...", "tags": ["recipient"],
                "parameters": [
                    {"name": "x-client-id", "in": "header", "required": true, "schema": {"type": "string"}},
                    {"name": "x-api-key", "in": "header", "required": true, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "{auth_token, expired_at}"}, "401": {"$ref": "#/components/responses/Error"}}
            }},
            "/api/v1/recipient/me": {"get": op("Recipient API: the recipient and its wallets", "recipient", false)},
            "/api/v1/recipient/wallets": {"get": op("Recipient API: wallet balances", "recipient", false)},
            "/api/v1/recipient/transfer_methods": {"get": op("Recipient API: list transfer methods (account numbers masked)", "recipient", false),
                                                   "post": op("Recipient API: add a bank transfer method (beneficiary fields, corridor rules)", "recipient", true)},
            "/api/v1/recipient/withdrawals": {"get": op("Recipient API: list withdrawals", "recipient", false),
                                              "post": op("Recipient API: withdraw from the wallet to a transfer method (x-idempotency-key required): a held payout", "recipient", true)},
            "/api/v1/audit_events": {"get": op("List the account's audit trail, newest first (action, object_id, credential_id, start_time, end_time; paginated)", "audit", false)},
            "/api/v1/audit_events/export": {"get": op("Export the account's audit trail in chain order with its hashes (format=csv|jsonl; same filters)", "audit", false)},
            "/api/v1/transfer": {"get": op("List internal transfers into, out of or made by the account (transfer_status)", "transfers", false),
                                 "post": op("Move available funds between the account and its connected accounts (x-idempotency-key required)", "transfers", true)},
            "/api/v1/transfer/{id}": {"get": op("Retrieve an internal transfer", "transfers", false)},
            "/api/v1/compliance/reviews": {"get": op("The compliance review queue: payouts and beneficiaries held by a screening hit or a rule (review_status OPEN|CLEARED|REJECTED, subject_type payout|beneficiary)", "compliance", false)},
            "/api/v1/compliance/reviews/{id}": {"get": op("A review with its screening hits (list entry, score, why) and the held payout", "compliance", false)},
            "/api/v1/compliance/reviews/{id}/clear": {"post": op("Clear a review {note?} (reviewer role): a held payout goes on (READY_TO_SEND or SCHEDULED, payout.ready.send)", "compliance", false)},
            "/api/v1/compliance/reviews/{id}/reject": {"post": op("Reject a review {note?} (reviewer role): a held payout becomes REJECTED, its hold voided, payout.compliance.rejected", "compliance", false)},
            "/api/v1/account_rules": {"get": op("The account's compliance rules: limits per currency, blocked countries, new-beneficiary velocity, and each rule's action", "compliance", false),
                                      "post": op("Replace the account's compliance rules (admin): {limits: [{currency, per_payout?, per_day?, per_beneficiary_month?}], blocked_countries, new_beneficiary_velocity: {window_hours, max_payouts}, actions: {rule: refuse|review}}", "compliance", false)},
            "/api/v1/payout_batches": {"get": op("List the account's payout batches, newest first", "payout_batches", false),
                                       "post": op("Create a payout batch: multipart (file: CSV or JSON Lines, mode?: ALL_OR_NOTHING|PARTIAL, format?: csv|jsonl, quote_id?) or JSON {mode?, quote_id?, payouts: [create-payout bodies]}; quote_id (also ?quote_id=) locks one payout quote's rate for every cross-currency row of its pair; rows are validated with the single-payout rules; a file already sent is refused (duplicate_file). See docs/batches.md", "payout_batches", false)},
            "/api/v1/payout_batches/{id}": {"get": op("A payout batch with counts and totals per status", "payout_batches", false)},
            "/api/v1/payout_batches/{id}/items": {"get": op("The rows of a batch in row order (item_status VALID|INVALID|CREATED|FAILED|CANCELLED; paginated): payout id or error field, code and message", "payout_batches", false)},
            "/api/v1/payout_batches/{id}/approve": {"post": op("Approve a PENDING_APPROVAL batch (approver role; a different credential than its creator) and release it", "payout_batches", false)},
            "/api/v1/payout_batches/{id}/cancel": {"post": op("Cancel a batch not yet released", "payout_batches", false)},
            "/api/v1/accounts/approval_policy": {"get": op("The account's approval policy (maker-checker)", "payout_batches", false),
                                                  "post": op("Set the approval policy (admin): {approval_required_for_batches?, payout_approval_thresholds?: {currency: amount}}", "payout_batches", false)},
            "/api/v1/files/upload": {"post": op("Upload a supporting document (multipart field file, optional notes; 20 MB; jpeg, png, pdf, doc, docx by content)", "files", true)},
            "/api/v1/webhook_endpoints": {"get": op("List active webhook endpoints", "webhooks", false),
                                          "post": op("Register a webhook endpoint {url, event_types?}; answers the signing secret, shown only here and on rotate", "webhooks", true)},
            "/api/v1/webhook_endpoints/{id}": {"get": op("Retrieve a webhook endpoint (without its secret)", "webhooks", false),
                                               "delete": op("Delete a webhook endpoint; its pending deliveries fail", "webhooks", true)},
            "/api/v1/webhook_endpoints/{id}/rotate_secret": {"post": op("Replace an endpoint's signing secret; answers the new one", "webhooks", true)},
            "/api/v1/credentials": {"get": op("List the account's credentials and their roles (admin)", "credentials", false),
                                    "post": op("Create a credential in a role (admin, payments, approver, reviewer, read_only); the API key is shown once", "credentials", false)},
            "/api/v1/credentials/{id}": {"delete": op("Revoke a credential; its tokens stop working", "credentials", false)},
            "/api/v1/sftp_keys": {"get": op("List the account's SFTP public keys", "sftp", false),
                                  "post": op("Register an SFTP public key (OpenSSH format); the SFTP user name is the account id", "sftp", false)},
            "/api/v1/sftp_keys/{id}": {"delete": op("Revoke an SFTP key; it can no longer log in", "sftp", false)},
            "/api/v1/webhook_deliveries": {"get": op("The delivery log: each delivery with its event, attempts and last result (status, event_type, endpoint_id, event_id, start_time, end_time)", "webhooks", false)},
            "/api/v1/webhook_events/replay": {"post": op("Deliver every matching event again {event_type?, start_time?, end_time?, endpoint_id?}", "webhooks", true)},
            "/api/v1/webhook_events/{id}/replay": {"post": op("Deliver one event again to the account's active endpoints", "webhooks", true)}
        },
        "components": {
            "responses": {"Error": {"description": "UQPAY error envelope", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {"Error": {"type": "object", "required": ["type", "code", "message"], "properties": {
                "type": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"},
                "field": {"type": "string"}, "missing_fields": {"type": "array", "items": {"type": "string"}},
                "retryable": {"type": "boolean"}
            }}}
        }
    }))
}

#[cfg(test)]
mod tests {
    /// Every route the router mounts is in the spec.
    #[tokio::test]
    async fn the_spec_lists_every_route() {
        let spec = super::spec().await.0;
        let sources = [
            include_str!("routes/accounts.rs"),
            include_str!("routes/audit.rs"),
            include_str!("routes/auth.rs"),
            include_str!("routes/balances.rs"),
            include_str!("routes/beneficiaries.rs"),
            include_str!("routes/compliance.rs"),
            include_str!("routes/deposits.rs"),
            include_str!("routes/files.rs"),
            include_str!("routes/fx.rs"),
            include_str!("routes/health.rs"),
            include_str!("routes/payouts.rs"),
            include_str!("routes/payout_batches.rs"),
            include_str!("routes/reports.rs"),
            include_str!("routes/simulation.rs"),
            include_str!("routes/transfers.rs"),
            include_str!("routes/webhooks.rs"),
            include_str!("routes/withdrawals.rs"),
        ];
        let mut checked = 0;
        for source in sources {
            for piece in source.split(".route(\"").skip(1) {
                let path = piece.split('"').next().unwrap_or_default();
                assert!(spec["paths"].get(path).is_some(), "{path} is served but missing from /api/openapi.json");
                checked += 1;
            }
        }
        assert!(checked > 25, "found only {checked} routes");
    }
}
