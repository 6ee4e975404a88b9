//! The double-entry ledger's rules.
//!
//! Ledger accounts are keyed by (owner, currency, kind). Every movement is a journal entry made of
//! legs "from → to"; a leg writes a debit line (−amount) on `from` and a credit line (+amount) on
//! `to`, so every entry sums to zero per currency by construction. Client-owned accounts are
//! liabilities and may never go below zero; platform accounts (the FBO bank, fee revenue, ...) may.
//!
//! Each entry belongs to exactly one client account's chain and touches only that client's own
//! ledger accounts plus platform accounts. That keeps the hash chain, the balance checks and the
//! locks per client: nothing serialises every client on one row.

mod audit;
mod book;
mod chain;
pub mod rules;

pub use audit::{AuditReport, Auditor, StoredEntry, StoredLine, Violation};
pub use book::{Book, Overdraft};
pub use chain::{ChainFields, GENESIS_HASH, entry_hash};

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{AccountId, Amount, Currency, EntityId};

/// Who owns a ledger account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    Platform,
    Client(AccountId),
}

impl Owner {
    /// The text stored in `owner_id` columns and hashed into the chain.
    pub fn as_key_text(&self) -> String {
        match self {
            Owner::Platform => "platform".to_owned(),
            Owner::Client(id) => id.to_string(),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        if text == "platform" { Some(Owner::Platform) } else { text.parse().ok().map(Owner::Client) }
    }
}

/// What a ledger account holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Client funds free to spend.
    Available,
    /// Client funds in flight: deposits not yet cleared, holds for payouts and withdrawals.
    Pending,
    /// Client funds set aside by the operator.
    Reserve,
    /// A recipient's wallet (stored-value model); the money stays the client's until withdrawn.
    Wallet(Uuid),
    /// Cash held at the FBO bank for all clients (an asset).
    FboBank,
    FeeRevenue,
    FxPosition,
    /// Money handed to a rail and not yet confirmed.
    Clearing(String),
}

impl Kind {
    pub fn is_client_owned(&self) -> bool {
        matches!(self, Kind::Available | Kind::Pending | Kind::Reserve | Kind::Wallet(_))
    }

    pub fn as_key_text(&self) -> String {
        match self {
            Kind::Available => "available".to_owned(),
            Kind::Pending => "pending".to_owned(),
            Kind::Reserve => "reserve".to_owned(),
            Kind::Wallet(id) => format!("wallet:{id}"),
            Kind::FboBank => "fbo_bank".to_owned(),
            Kind::FeeRevenue => "fee_revenue".to_owned(),
            Kind::FxPosition => "fx_position".to_owned(),
            Kind::Clearing(rail) => format!("clearing:{rail}"),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "available" => Kind::Available,
            "pending" => Kind::Pending,
            "reserve" => Kind::Reserve,
            "fbo_bank" => Kind::FboBank,
            "fee_revenue" => Kind::FeeRevenue,
            "fx_position" => Kind::FxPosition,
            other => {
                if let Some(id) = other.strip_prefix("wallet:") {
                    Kind::Wallet(id.parse().ok()?)
                } else if let Some(rail) = other.strip_prefix("clearing:") {
                    Kind::Clearing(rail.to_owned())
                } else {
                    return None;
                }
            }
        })
    }
}

/// A ledger account's identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LedgerKey {
    pub owner: Owner,
    pub currency: Currency,
    pub kind: Kind,
}

impl LedgerKey {
    pub fn client(account: AccountId, currency: Currency, kind: Kind) -> Self {
        debug_assert!(kind.is_client_owned());
        Self { owner: Owner::Client(account), currency, kind }
    }

    pub fn platform(currency: Currency, kind: Kind) -> Self {
        debug_assert!(!kind.is_client_owned());
        Self { owner: Owner::Platform, currency, kind }
    }

    /// Client-owned accounts are liabilities to the client and must never go below zero.
    pub fn must_stay_non_negative(&self) -> bool {
        self.kind.is_client_owned()
    }
}

impl fmt::Display for LedgerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.owner.as_key_text(), self.currency, self.kind.as_key_text())
    }
}

/// One movement "from → to".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leg {
    pub from: LedgerKey,
    pub to: LedgerKey,
    pub amount: Amount,
}

/// What an entry records; stored as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    DepositReceived,
    DepositCleared,
    DepositReturned,
    Hold,
    HoldPosted,
    HoldVoided,
    LateReturn,
    ReserveSet,
    ReserveReleased,
    Conversion,
    TransferOut,
    TransferIn,
    // --- wallets ---
    WalletCredit,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::DepositReceived => "deposit_received",
            EntryKind::DepositCleared => "deposit_cleared",
            EntryKind::DepositReturned => "deposit_returned",
            EntryKind::Hold => "hold",
            EntryKind::HoldPosted => "hold_posted",
            EntryKind::HoldVoided => "hold_voided",
            EntryKind::LateReturn => "late_return",
            EntryKind::ReserveSet => "reserve_set",
            EntryKind::ReserveReleased => "reserve_released",
            EntryKind::Conversion => "conversion",
            EntryKind::TransferOut => "transfer_out",
            EntryKind::TransferIn => "transfer_in",
            EntryKind::WalletCredit => "wallet_credit",
        }
    }
}

/// The business object an entry belongs to, e.g. `("withdrawal", id)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    pub kind: &'static str,
    pub id: EntityId,
}

/// A balanced entry ready to be posted on `chain_owner`'s chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryDraft {
    pub chain_owner: AccountId,
    pub kind: EntryKind,
    pub reference: Reference,
    pub legs: Vec<Leg>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DraftError {
    #[error("an entry needs at least one leg")]
    NoLegs,
    #[error("leg {0} has a zero amount")]
    ZeroAmount(usize),
    #[error("leg {0} moves money between accounts of different currencies")]
    CurrencyMismatch(usize),
    #[error("leg {0} moves money from an account to itself")]
    SameAccount(usize),
    #[error("leg {0} touches a client account other than the chain owner's")]
    ForeignClientAccount(usize),
    #[error("leg {0} uses a client kind on a platform account or the reverse")]
    KindOwnerMismatch(usize),
}

/// One signed line: + is a credit, − a debit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub key: LedgerKey,
    pub amount: i64,
}

impl EntryDraft {
    pub fn validate(&self) -> Result<(), DraftError> {
        if self.legs.is_empty() {
            return Err(DraftError::NoLegs);
        }
        for (i, leg) in self.legs.iter().enumerate() {
            if leg.amount.is_zero() {
                return Err(DraftError::ZeroAmount(i));
            }
            if leg.from.currency != leg.to.currency {
                return Err(DraftError::CurrencyMismatch(i));
            }
            if leg.from == leg.to {
                return Err(DraftError::SameAccount(i));
            }
            for key in [&leg.from, &leg.to] {
                match key.owner {
                    Owner::Client(owner) => {
                        if !key.kind.is_client_owned() {
                            return Err(DraftError::KindOwnerMismatch(i));
                        }
                        if owner != self.chain_owner {
                            return Err(DraftError::ForeignClientAccount(i));
                        }
                    }
                    Owner::Platform if key.kind.is_client_owned() => {
                        return Err(DraftError::KindOwnerMismatch(i));
                    }
                    Owner::Platform => {}
                }
            }
        }
        Ok(())
    }

    /// The entry's lines, two per leg, in leg order.
    pub fn lines(&self) -> Vec<Line> {
        self.legs
            .iter()
            .flat_map(|leg| {
                [
                    Line { key: leg.from.clone(), amount: -leg.amount.minor() },
                    Line { key: leg.to.clone(), amount: leg.amount.minor() },
                ]
            })
            .collect()
    }

    /// Net change per ledger account (several legs may touch one account).
    pub fn net_changes(&self) -> Vec<(LedgerKey, i64)> {
        let mut net: Vec<(LedgerKey, i64)> = Vec::new();
        for line in self.lines() {
            match net.iter_mut().find(|(k, _)| *k == line.key) {
                Some((_, total)) => *total += line.amount,
                None => net.push((line.key, line.amount)),
            }
        }
        net
    }
}
