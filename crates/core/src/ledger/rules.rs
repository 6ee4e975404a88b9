//! Posting rules: which legs each business event writes (DESIGN.md section 3).

use super::{EntryDraft, EntryKind, Kind, LedgerKey, Leg, Reference};
use crate::{AccountId, Amount, Currency};

fn client(account: AccountId, currency: Currency, kind: Kind) -> LedgerKey {
    LedgerKey::client(account, currency, kind)
}

fn draft(owner: AccountId, kind: EntryKind, reference: Reference, legs: Vec<Leg>) -> EntryDraft {
    EntryDraft { chain_owner: owner, kind, reference, legs: legs.into_iter().filter(|l| !l.amount.is_zero()).collect() }
}

/// A deposit arrives at the FBO bank: it lands in the client's pending balance.
pub fn deposit_received(account: AccountId, currency: Currency, amount: Amount, reference: Reference) -> EntryDraft {
    let leg = Leg {
        from: LedgerKey::platform(currency, Kind::FboBank),
        to: client(account, currency, Kind::Pending),
        amount,
    };
    draft(account, EntryKind::DepositReceived, reference, vec![leg])
}

/// A deposit clears: pending → available.
pub fn deposit_cleared(account: AccountId, currency: Currency, amount: Amount, reference: Reference) -> EntryDraft {
    let leg =
        Leg { from: client(account, currency, Kind::Pending), to: client(account, currency, Kind::Available), amount };
    draft(account, EntryKind::DepositCleared, reference, vec![leg])
}

/// A pending deposit is rejected and sent back to the sender: pending → FBO bank.
pub fn deposit_returned(account: AccountId, currency: Currency, amount: Amount, reference: Reference) -> EntryDraft {
    let leg = Leg {
        from: client(account, currency, Kind::Pending),
        to: LedgerKey::platform(currency, Kind::FboBank),
        amount,
    };
    draft(account, EntryKind::DepositReturned, reference, vec![leg])
}

/// A payout or withdrawal is accepted: amount plus fee move available → pending (a hold).
pub fn hold(account: AccountId, currency: Currency, total: Amount, reference: Reference) -> EntryDraft {
    let leg = Leg {
        from: client(account, currency, Kind::Available),
        to: client(account, currency, Kind::Pending),
        amount: total,
    };
    draft(account, EntryKind::Hold, reference, vec![leg])
}

/// The hold is posted: the amount leaves through the FBO bank, the fee becomes revenue.
pub fn post_hold(
    account: AccountId,
    currency: Currency,
    amount: Amount,
    fee: Amount,
    reference: Reference,
) -> EntryDraft {
    let pending = client(account, currency, Kind::Pending);
    let legs = vec![
        Leg { from: pending.clone(), to: LedgerKey::platform(currency, Kind::FboBank), amount },
        Leg { from: pending, to: LedgerKey::platform(currency, Kind::FeeRevenue), amount: fee },
    ];
    draft(account, EntryKind::HoldPosted, reference, legs)
}

/// The hold is voided: pending → available.
pub fn void_hold(account: AccountId, currency: Currency, total: Amount, reference: Reference) -> EntryDraft {
    let leg = Leg {
        from: client(account, currency, Kind::Pending),
        to: client(account, currency, Kind::Available),
        amount: total,
    };
    draft(account, EntryKind::HoldVoided, reference, vec![leg])
}

/// Money comes back after a completed payout.
pub fn late_return(account: AccountId, currency: Currency, amount: Amount, reference: Reference) -> EntryDraft {
    let leg = Leg {
        from: LedgerKey::platform(currency, Kind::FboBank),
        to: client(account, currency, Kind::Available),
        amount,
    };
    draft(account, EntryKind::LateReturn, reference, vec![leg])
}

/// Move funds between available and reserve: positive `delta` reserves, negative releases.
pub fn adjust_reserve(account: AccountId, currency: Currency, delta: i64, reference: Reference) -> Option<EntryDraft> {
    let available = client(account, currency, Kind::Available);
    let reserve = client(account, currency, Kind::Reserve);
    let amount = Amount::from_minor(delta.checked_abs()?).ok()?;
    if amount.is_zero() {
        return None;
    }
    Some(if delta > 0 {
        draft(account, EntryKind::ReserveSet, reference, vec![Leg { from: available, to: reserve, amount }])
    } else {
        draft(account, EntryKind::ReserveReleased, reference, vec![Leg { from: reserve, to: available, amount }])
    })
}

/// A cross-currency hold is posted: the source amount goes to the FX position, the FX position
/// pays the destination amount out through the FBO bank, the fee becomes revenue.
#[allow(clippy::too_many_arguments)]
pub fn post_hold_via_fx(
    account: AccountId,
    source: Currency,
    amount: Amount,
    fee: Amount,
    destination: Currency,
    destination_amount: Amount,
    reference: Reference,
) -> EntryDraft {
    let pending = client(account, source, Kind::Pending);
    let legs = vec![
        Leg { from: pending.clone(), to: LedgerKey::platform(source, Kind::FxPosition), amount },
        Leg {
            from: LedgerKey::platform(destination, Kind::FxPosition),
            to: LedgerKey::platform(destination, Kind::FboBank),
            amount: destination_amount,
        },
        Leg { from: pending, to: LedgerKey::platform(source, Kind::FeeRevenue), amount: fee },
    ];
    draft(account, EntryKind::HoldPosted, reference, legs)
}

/// Money of a completed cross-currency payout comes back: the destination amount returns to the
/// FX position, the client gets the source amount back at the original rate.
pub fn late_return_via_fx(
    account: AccountId,
    source: Currency,
    amount: Amount,
    destination: Currency,
    destination_amount: Amount,
    reference: Reference,
) -> EntryDraft {
    let legs = vec![
        Leg {
            from: LedgerKey::platform(destination, Kind::FboBank),
            to: LedgerKey::platform(destination, Kind::FxPosition),
            amount: destination_amount,
        },
        Leg {
            from: LedgerKey::platform(source, Kind::FxPosition),
            to: client(account, source, Kind::Available),
            amount,
        },
    ];
    draft(account, EntryKind::LateReturn, reference, legs)
}

/// A conversion between the client's own balances: the sold amount goes from the client's
/// available balance to the platform's FX position in that currency, and the bought amount comes
/// from the platform's FX position in the other currency to the client's available balance. Each
/// currency balances on its own; the FX position is what the platform must square with its
/// liquidity provider.
pub fn conversion(
    account: AccountId,
    sell_currency: Currency,
    sell_amount: Amount,
    buy_currency: Currency,
    buy_amount: Amount,
    reference: Reference,
) -> EntryDraft {
    let legs = vec![
        Leg {
            from: client(account, sell_currency, Kind::Available),
            to: LedgerKey::platform(sell_currency, Kind::FxPosition),
            amount: sell_amount,
        },
        Leg {
            from: LedgerKey::platform(buy_currency, Kind::FxPosition),
            to: client(account, buy_currency, Kind::Available),
            amount: buy_amount,
        },
    ];
    draft(account, EntryKind::Conversion, reference, legs)
}

/// The platform account an internal transfer passes through: each side is its own entry on its
/// own client's chain, written in one transaction, so the clearing account nets to zero.
pub const TRANSFER_CLEARING: &str = "internal_transfer";

/// An internal transfer leaves `account`: available → transfer clearing.
pub fn transfer_out(account: AccountId, currency: Currency, amount: Amount, reference: Reference) -> EntryDraft {
    let leg = Leg {
        from: client(account, currency, Kind::Available),
        to: LedgerKey::platform(currency, Kind::Clearing(TRANSFER_CLEARING.to_owned())),
        amount,
    };
    draft(account, EntryKind::TransferOut, reference, vec![leg])
}

/// An internal transfer arrives at `account`: transfer clearing → available.
pub fn transfer_in(account: AccountId, currency: Currency, amount: Amount, reference: Reference) -> EntryDraft {
    let leg = Leg {
        from: LedgerKey::platform(currency, Kind::Clearing(TRANSFER_CLEARING.to_owned())),
        to: client(account, currency, Kind::Available),
        amount,
    };
    draft(account, EntryKind::TransferIn, reference, vec![leg])
}
