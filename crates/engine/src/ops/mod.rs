//! One module per resource; each turns a command into rows, ledger entries and events.

mod accounts;
pub(crate) mod batches;
mod beneficiaries;
mod compliance;
mod deposits;
mod files;
pub(crate) mod fx;
pub(crate) mod jobs;
pub(crate) mod payouts;
mod reports;
mod reserves;
mod sftp;
mod transfers;
pub(crate) mod wallets;
mod webhooks;
mod withdrawals;

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};

use outlay_core::refs::{ordered_letters, short_reference};
use outlay_store::{PostError, WriteTx};
use time::OffsetDateTime;

use crate::{Command, CommandError, Outcome};

/// What every operation may use besides the transaction.
pub struct Ctx<'a> {
    pub now: OffsetDateTime,
    pub config: &'a crate::EngineConfig,
}

impl Ctx<'_> {
    /// A new short reference: ordered by time, then by this process's counter (see
    /// `ordered_letters`), which starts at a random value so that nodes rarely share one.
    pub fn short_ref(&self, prefix: &str) -> String {
        static SEQUENCE: LazyLock<AtomicU32> = LazyLock::new(|| AtomicU32::new(rand::random()));
        let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        short_reference(prefix, self.now.date(), ordered_letters(self.now, sequence))
    }
}

pub async fn apply(cmd: &Command, tx: &mut dyn WriteTx, ctx: &Ctx<'_>) -> Result<Outcome, CommandError> {
    match cmd {
        Command::SetRates { rates, source } => fx::set_rates(tx, ctx, rates, source).await,
        Command::CreateQuote(q) => fx::create_quote(tx, ctx, q).await,
        Command::CreateConversion(c) => fx::create_conversion(tx, ctx, c).await,
        Command::CreateAccount { name, parent, client_id, api_key_hash } => {
            accounts::create(tx, ctx, name, *parent, client_id, api_key_hash).await
        }
        Command::BootstrapSandboxPlatform { name, client_id, api_key_hash } => {
            if tx.platform_accounts_locked().await? > 0 {
                return Ok(Outcome::PlatformExists);
            }
            accounts::create(tx, ctx, name, None, client_id, api_key_hash).await
        }
        Command::SetBankAccount { account, bank } => accounts::set_bank(tx, *account, bank.as_ref()).await,
        Command::CreateCredential { account, role, client_id, api_key_hash } => {
            accounts::create_credential(tx, ctx, *account, *role, client_id, api_key_hash).await
        }
        Command::RevokeCredential { account, credential } => {
            accounts::revoke_credential(tx, ctx, *account, *credential).await
        }
        Command::IssueToken { account, credential, token_hash, expires_at } => {
            accounts::issue_token(tx, ctx, *account, *credential, token_hash, *expires_at).await
        }
        Command::CreateDeposit(d) => deposits::create(tx, ctx, d).await,
        Command::SettleDeposit { account, deposit, settlement } => {
            deposits::settle(tx, ctx, *account, *deposit, settlement).await
        }
        Command::CreateWithdrawal { account, currency, amount, reference } => {
            withdrawals::create(tx, ctx, *account, *currency, *amount, reference.as_deref()).await
        }
        Command::SettleWithdrawal { account, withdrawal, settlement } => {
            withdrawals::settle(tx, ctx, *account, *withdrawal, settlement).await
        }
        Command::SetReserve { account, currency, target } => reserves::set(tx, ctx, *account, *currency, *target).await,
        Command::CreateBeneficiary(b) => beneficiaries::create(tx, ctx, b).await,
        Command::UpdateBeneficiary { id, update } => beneficiaries::update(tx, ctx, *id, update).await,
        Command::DeleteBeneficiary { account, id } => beneficiaries::delete(tx, ctx, *account, *id).await,
        Command::UploadFile { account, file } => files::upload(tx, ctx, *account, file).await,
        Command::CreatePayout(p) => payouts::create(tx, ctx, p).await,
        // --- compliance ---
        Command::LoadScreeningList(files) => compliance::load_list(tx, ctx, files).await,
        Command::DecideReview { account, review, decision, reviewer, note } => {
            compliance::decide(tx, ctx, *account, *review, *decision, *reviewer, note.as_deref()).await
        }
        Command::SetComplianceRules { account, rules, updated_by } => {
            compliance::set_rules(tx, ctx, *account, rules, *updated_by).await
        }
        Command::CreateTransfer(t) => transfers::create(tx, ctx, t).await,
        Command::TransitionPayout { account, payout, to, reason } => {
            payouts::transition(tx, ctx, *account, *payout, *to, reason.as_deref()).await
        }
        Command::CreateWebhookEndpoint { account, url, event_types } => {
            webhooks::create_endpoint(tx, ctx, *account, url, event_types).await
        }
        Command::RotateWebhookSecret { account, endpoint } => {
            webhooks::rotate_secret(tx, ctx, *account, *endpoint).await
        }
        Command::DeleteWebhookEndpoint { account, endpoint } => {
            webhooks::delete_endpoint(tx, ctx, *account, *endpoint).await
        }
        Command::ReplayWebhookEvents(r) => webhooks::replay(tx, ctx, r).await,
        Command::ClaimWebhookDeliveries { limit, lease } => webhooks::claim(tx, ctx, *limit, *lease).await,
        Command::RecordWebhookAttempt(a) => webhooks::record_attempt(tx, ctx, a).await,
        Command::RecordWebhookAttempts(a) => webhooks::record_attempts(tx, ctx, a).await,
        Command::SendPayouts { payouts, reason, rail } => {
            payouts::send_many(tx, ctx, payouts, reason, rail.as_deref()).await
        }
        Command::EnqueueJob(job) => jobs::enqueue(tx, job).await,
        Command::ClaimJobs { kinds, limit, lease } => jobs::claim(tx, ctx, kinds, *limit, *lease).await,
        Command::FinishJob { id, claim_token, end } => jobs::finish(tx, ctx, *id, *claim_token, end).await,
        // --- sftp ---
        Command::AddSftpKey { account, public_key, fingerprint } => {
            sftp::add_key(tx, ctx, *account, public_key, fingerprint).await
        }
        Command::RevokeSftpKey { account, id } => sftp::revoke_key(tx, ctx, *account, *id).await,
        Command::RecordSftpFile(file) => sftp::record_file(tx, ctx, file).await,
        Command::UpdateSftpFile { id, status, batch_id, detail } => {
            sftp::update_file(tx, ctx, *id, status, *batch_id, detail.as_deref()).await
        }
        // --- audit ---
        Command::RecordAudit(draft) => {
            tx.append_audit(draft).await?;
            Ok(Outcome::AuditRecorded)
        }
        Command::ResealSecrets => Ok(Outcome::Resealed(tx.reseal_secrets().await?)),
        // --- reports ---
        Command::CreateReport(r) => reports::create(tx, ctx, r).await,
        Command::ScheduleReports(asks) => reports::schedule(tx, ctx, asks).await,
        Command::ClaimReports { limit, lease } => reports::claim(tx, ctx, *limit, *lease).await,
        Command::FinishReport(f) => reports::finish(tx, ctx, f).await,
        // --- wallets ---
        Command::SetPayoutModel { account, model } => wallets::set_payout_model(tx, ctx, *account, model).await,
        Command::CreateRecipient(r) => wallets::create_recipient(tx, ctx, r).await,
        Command::IssueRecipientToken(t) => wallets::issue_token(tx, ctx, t).await,
        Command::CreateTransferMethod { recipient, beneficiary } => {
            wallets::create_transfer_method(tx, ctx, *recipient, beneficiary).await
        }
        Command::CreateWalletPayout(p) => wallets::create_wallet_payout(tx, ctx, p).await,
        Command::CreateWalletWithdrawal(w) => wallets::create_withdrawal(tx, ctx, w).await,
        // --- batches ---
        Command::CreateBatch(row) => batches::create(tx, ctx, row).await,
        Command::AddBatchItems { batch, items } => batches::add_items(tx, *batch, items).await,
        Command::FinishBatchValidation { account, done } => batches::finish_validation(tx, ctx, *account, done).await,
        Command::ApproveBatch { account, batch, approver } => {
            batches::approve(tx, ctx, *account, *batch, *approver).await
        }
        Command::ReleaseBatch { account, batch, limit } => {
            batches::release_validated(tx, ctx, *account, *batch, *limit).await
        }
        Command::CancelBatch { account, batch, by } => batches::cancel(tx, ctx, *account, *batch, *by).await,
        Command::SetApprovalPolicy(policy) => batches::set_policy(tx, ctx, policy).await,
        // --- payout approval (maker-checker) ---
        Command::ApprovePayout { account, payout, approver } => {
            payouts::approve(tx, ctx, *account, *payout, *approver).await
        }
        Command::DeclinePayoutApproval { account, payout, approver } => {
            payouts::decline_approval(tx, ctx, *account, *payout, *approver).await
        }
    }
}

/// Map a posting failure: an overdraft is the client's problem, anything else is ours.
fn posting(e: PostError, currency: &str) -> CommandError {
    match e {
        PostError::Insufficient { .. } => CommandError::InsufficientFunds { currency: currency.to_owned() },
        PostError::Invalid(e) => CommandError::Internal(format!("invalid ledger entry: {e}")),
        PostError::Store(e) => e.into(),
    }
}
