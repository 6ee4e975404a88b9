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

/// A whole payout batch is held at once: each currency's total moves available → pending, in
/// one entry (its payouts then draw on it instead of holding one by one).
pub fn hold_batch(account: AccountId, totals: &[(Currency, Amount)], reference: Reference) -> EntryDraft {
    let legs = per_currency(account, totals, &Kind::Available, &Kind::Pending);
    draft(account, EntryKind::Hold, reference, legs)
}

/// What a batch held as a whole no longer needs goes back: pending → available, per currency.
pub fn void_batch_hold(account: AccountId, totals: &[(Currency, Amount)], reference: Reference) -> EntryDraft {
    let legs = per_currency(account, totals, &Kind::Pending, &Kind::Available);
    draft(account, EntryKind::HoldVoided, reference, legs)
}

/// One leg per currency between two of the client's balances.
fn per_currency(account: AccountId, totals: &[(Currency, Amount)], from: &Kind, to: &Kind) -> Vec<Leg> {
    totals
        .iter()
        .map(|(currency, total)| Leg {
            from: client(account, *currency, from.clone()),
            to: client(account, *currency, to.clone()),
            amount: *total,
        })
        .collect()
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

// --- wallets (stored-value model) ---
//
// A recipient's wallet is a ledger account of the client (`Kind::Wallet(recipient)`), on the
// client's own chain: the money stays the client's until a withdrawal to the recipient's transfer
// method completes. A withdrawal is a held payout whose hold comes from the wallet and whose void
// or late return goes back to the wallet; the post is the ordinary `post_hold`.

/// A stored-value payout: client available → the recipient's wallet.
pub fn wallet_credit(
    account: AccountId,
    currency: Currency,
    recipient: uuid::Uuid,
    amount: Amount,
    reference: Reference,
) -> EntryDraft {
    let leg = Leg {
        from: client(account, currency, Kind::Available),
        to: client(account, currency, Kind::Wallet(recipient)),
        amount,
    };
    draft(account, EntryKind::WalletCredit, reference, vec![leg])
}

/// A wallet withdrawal is accepted: amount plus fee move wallet → pending (a hold).
pub fn wallet_hold(
    account: AccountId,
    currency: Currency,
    recipient: uuid::Uuid,
    total: Amount,
    reference: Reference,
) -> EntryDraft {
    let leg = Leg {
        from: client(account, currency, Kind::Wallet(recipient)),
        to: client(account, currency, Kind::Pending),
        amount: total,
    };
    draft(account, EntryKind::Hold, reference, vec![leg])
}

/// A wallet withdrawal fails, is rejected or cancelled: pending → the wallet it came from.
pub fn void_wallet_hold(
    account: AccountId,
    currency: Currency,
    recipient: uuid::Uuid,
    total: Amount,
    reference: Reference,
) -> EntryDraft {
    let leg = Leg {
        from: client(account, currency, Kind::Pending),
        to: client(account, currency, Kind::Wallet(recipient)),
        amount: total,
    };
    draft(account, EntryKind::HoldVoided, reference, vec![leg])
}

/// Money of a completed wallet withdrawal comes back: FBO bank → the recipient's wallet.
pub fn late_return_to_wallet(
    account: AccountId,
    currency: Currency,
    recipient: uuid::Uuid,
    amount: Amount,
    reference: Reference,
) -> EntryDraft {
    let leg = Leg {
        from: LedgerKey::platform(currency, Kind::FboBank),
        to: client(account, currency, Kind::Wallet(recipient)),
        amount,
    };
    draft(account, EntryKind::LateReturn, reference, vec![leg])
}

#[cfg(test)]
mod wallet_tests {
    use super::*;
    use crate::ledger::{Book, Overdraft};
    use uuid::Uuid;

    fn usd() -> Currency {
        Currency::parse("USD").expect("USD")
    }

    fn amt(minor: i64) -> Amount {
        Amount::from_minor(minor).expect("amount")
    }

    fn r() -> Reference {
        Reference { kind: "test", id: Uuid::new_v4() }
    }

    #[test]
    fn a_wallet_flow_keeps_the_money_on_the_client_chain() {
        let account = AccountId(Uuid::new_v4());
        let recipient = Uuid::new_v4();
        let wallet = LedgerKey::client(account, usd(), Kind::Wallet(recipient));
        let available = LedgerKey::client(account, usd(), Kind::Available);
        let pending = LedgerKey::client(account, usd(), Kind::Pending);
        let mut book = Book::new();
        let mut n = 0;
        let mut post = |book: &mut Book, d: &EntryDraft| {
            assert!(d.validate().is_ok());
            n += 1;
            book.post(d, format!("e{n}"), n)
        };
        post(&mut book, &deposit_received(account, usd(), amt(10_000), r())).expect("deposit");
        post(&mut book, &deposit_cleared(account, usd(), amt(10_000), r())).expect("clear");
        post(&mut book, &wallet_credit(account, usd(), recipient, amt(10_000), r())).expect("credit");
        assert_eq!((book.balance(&available), book.balance(&wallet)), (0, 10_000));
        // The wallet cannot be overdrawn.
        let too_much = wallet_hold(account, usd(), recipient, amt(10_001), r());
        assert!(matches!(post(&mut book, &too_much), Err(Overdraft::Insufficient { .. })));
        post(&mut book, &wallet_hold(account, usd(), recipient, amt(3_000), r())).expect("hold");
        assert_eq!((book.balance(&wallet), book.balance(&pending)), (7_000, 3_000));
        post(&mut book, &post_hold(account, usd(), amt(3_000), Amount::ZERO, r())).expect("post");
        assert_eq!((book.balance(&wallet), book.balance(&pending)), (7_000, 0));
        post(&mut book, &wallet_hold(account, usd(), recipient, amt(2_091), r())).expect("hold 2");
        post(&mut book, &void_wallet_hold(account, usd(), recipient, amt(2_091), r())).expect("void");
        assert_eq!(book.balance(&wallet), 7_000);
        post(&mut book, &late_return_to_wallet(account, usd(), recipient, amt(3_000), r())).expect("return");
        assert_eq!(book.balance(&wallet), 10_000);
        let fbo = LedgerKey::platform(usd(), Kind::FboBank);
        assert_eq!(book.balance(&fbo), -10_000, "the FBO bank still holds the money the wallet owns");
    }

    #[test]
    fn a_wallet_of_another_client_cannot_be_touched() {
        let mut d = wallet_credit(AccountId(Uuid::new_v4()), usd(), Uuid::new_v4(), amt(1), r());
        d.chain_owner = AccountId(Uuid::new_v4());
        assert!(d.validate().is_err());
    }
}
