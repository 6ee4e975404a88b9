//! Outlay's business operations. Every write goes through the single group-commit [`writer`]:
//! requests become [`Command`]s, the writer runs whatever is waiting in one transaction (one
//! savepoint per command), commits once, then answers each request. Idempotency records, state
//! changes, ledger entries and outgoing events are written in that same transaction.

pub mod auth;
pub mod clock;
mod command;
mod engine;
pub mod events;
pub mod idempotency;
mod ops;
pub mod settler;
pub mod verify;
pub mod webhooks;
mod writer;

pub use clock::{Clock, ManualClock, SystemClock};
pub use command::{
    BeneficiarySource, Command, CommandError, DepositOutcome, Document, FileUpload, NewBeneficiary, NewConversion,
    NewDeposit, NewPayout, NewQuote, NewTransfer, Outcome, Settlement, WebhookAttempt, WebhookReplay,
};
pub use engine::{Engine, EngineConfig};
pub use idempotency::{IdempotencyContext, StoredResponse, WriteResult};
pub use writer::WriterStats;
