//! Outlay's domain core: money, currencies, the ledger's rules and the identifiers that cross
//! every layer. Pure code: no I/O, no clock reads, no randomness. Everything here validates on
//! construction, so an invalid value cannot exist past the edge that parsed it.

pub mod audit;
pub mod bank;
pub mod calendar;
pub mod compliance;
pub mod corridors;
pub mod fees;
pub mod files;
pub mod fx;
pub mod idempotency;
pub mod ids;
pub mod iso20022;
pub mod ledger;
pub mod money;
pub mod payout;
pub mod refs;
pub mod reports;
pub mod roles;
pub mod screening;
pub mod webhooks;

pub use idempotency::IdempotencyKey;
pub use ids::{AccountId, EntityId};
pub use money::{Amount, AmountError, Currency, CurrencyError, Money};
