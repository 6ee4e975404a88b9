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
