//! What the writer can be asked to do, and what it answers.

use outlay_core::{AccountId, Amount, Currency};
use outlay_store::{AccountRow, BankAccount, DepositRow, StoreError, WithdrawalRow};
use time::OffsetDateTime;
use uuid::Uuid;

/// A deposit as it arrives at the FBO bank.
#[derive(Clone, Debug)]
pub struct NewDeposit {
    pub account: AccountId,
    pub currency: Currency,
    pub amount: Amount,
    pub receiver_account_number: Option<String>,
    pub deposit_reference: Option<String>,
    pub sender_name: Option<String>,
    pub sender_country: Option<String>,
    pub sender_account_number: Option<String>,
    pub sender_swift_code: Option<String>,
    /// `simulation` or `operator`.
    pub source: &'static str,
    pub outcome: DepositOutcome,
}

/// What happens to a deposit on arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepositOutcome {
    /// Lands in pending; cleared or rejected later.
    Pending,
    /// Lands and clears at once (an operator recording money already on the bank statement).
    Cleared,
    /// Refused on arrival (compliance): nothing reaches the ledger.
    Rejected,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settlement {
    Complete,
    Fail { reason: String },
}

#[derive(Clone, Debug)]
pub enum Command {
    CreateAccount { name: String, parent: Option<AccountId>, client_id: String, api_key_hash: String },
    SetBankAccount { account: AccountId, bank: Option<BankAccount> },
    IssueToken { account: AccountId, credential: Uuid, token_hash: String, expires_at: OffsetDateTime },
    CreateDeposit(NewDeposit),
    SettleDeposit { account: AccountId, deposit: Uuid, settlement: Settlement },
    CreateWithdrawal { account: AccountId, currency: Currency, amount: Amount, reference: Option<String> },
    SettleWithdrawal { account: AccountId, withdrawal: Uuid, settlement: Settlement },
    SetReserve { account: AccountId, currency: Currency, target: Amount },
}

impl Command {
    /// Client accounts whose ledger chains this command may write (locked up front, in order).
    pub fn chain_owners(&self) -> Option<AccountId> {
        match self {
            Command::CreateAccount { .. } | Command::SetBankAccount { .. } | Command::IssueToken { .. } => None,
            Command::CreateDeposit(d) => Some(d.account),
            Command::SettleDeposit { account, .. }
            | Command::CreateWithdrawal { account, .. }
            | Command::SettleWithdrawal { account, .. }
            | Command::SetReserve { account, .. } => Some(*account),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Outcome {
    AccountCreated { account: AccountRow, credential_id: Uuid },
    BankAccountSet,
    TokenIssued,
    Deposit(DepositRow),
    Withdrawal(WithdrawalRow),
    ReserveSet { currency: Currency, reserve: Amount, available: Amount },
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum CommandError {
    #[error("insufficient available balance in {currency}")]
    InsufficientFunds { currency: String },
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("{0}")]
    InvalidState(String),
    #[error("{field}: {message}")]
    Rejected { field: &'static str, code: &'static str, message: String },
    #[error("the idempotency key was already used with a different request")]
    IdempotencyMismatch,
    #[error("a request with this idempotency key is still being processed")]
    IdempotencyInFlight,
    #[error("the server is at capacity; retry shortly")]
    Overloaded,
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("retry the command")]
    RetryCommand,
    #[error("retry the whole batch")]
    RetryBatch,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { constraint } if constraint.contains("short_reference") => CommandError::RetryCommand,
            StoreError::Retry(_) => CommandError::RetryBatch,
            other => CommandError::Internal(other.to_string()),
        }
    }
}
