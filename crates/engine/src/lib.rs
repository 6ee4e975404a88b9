//! Outlay's business operations. Every write goes through the single group-commit [`writer`]:
//! requests become [`Command`]s, the writer runs whatever is waiting in one transaction (one
//! savepoint per command), commits once, then answers each request. Idempotency records, state
//! changes, ledger entries and outgoing events are written in that same transaction.

pub mod audit;
pub mod auth;
pub mod batches;
pub mod clock;
mod command;
mod engine;
pub mod events;
pub mod idempotency;
mod open_payouts;
mod ops;
pub mod parse;
pub mod screening;
pub mod settler;
pub mod sftp_keys;
pub mod verify;
pub mod webhooks;
mod writer;

pub use clock::{Clock, ManualClock, SystemClock};
pub use command::{
    BatchValidation, BeneficiarySource, Command, CommandError, DepositOutcome, Document, FileUpload, NewBeneficiary,
    NewConversion, NewDeposit, NewPayout, NewQuote, NewReport, NewTransfer, Outcome, Settlement, WebhookAttempt,
    WebhookReplay,
};
// --- wallets ---
pub use command::{NewRecipient, NewWalletPayout, NewWalletWithdrawal};
pub use engine::{DEFAULT_MAX_QUEUE_WAIT, Engine, EngineConfig};
pub use idempotency::{IdempotencyContext, StoredResponse, WriteResult};
pub use open_payouts::OpenPayoutPages;
/// Kinds of job the engine itself queues.
pub use ops::jobs::{RAIL_SUBMIT, rail_submission};
pub use writer::WriterStats;
