//! One module per resource; each turns a command into rows, ledger entries and events.

mod accounts;
mod beneficiaries;
mod deposits;
mod files;
pub(crate) mod fx;
mod payouts;
mod reserves;
mod transfers;
mod webhooks;
mod withdrawals;

use outlay_core::refs::{SHORT_REF_LETTERS, short_reference};
use outlay_store::{PostError, WriteTx};
use rand::Rng;
use time::OffsetDateTime;

use crate::{Command, CommandError, Outcome};

/// What every operation may use besides the transaction.
pub struct Ctx<'a> {
    pub now: OffsetDateTime,
    pub config: &'a crate::EngineConfig,
}

impl Ctx<'_> {
    pub fn short_ref(&self, prefix: &str) -> String {
        let letters: [u8; SHORT_REF_LETTERS] = rand::rng().random();
        short_reference(prefix, self.now.date(), letters)
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
        Command::SetBankAccount { account, bank } => accounts::set_bank(tx, *account, bank.as_ref()).await,
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
        Command::SendPayouts { payouts, reason } => payouts::send_many(tx, ctx, payouts, reason).await,
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
