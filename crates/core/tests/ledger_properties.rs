//! Property tests: any sequence of operations keeps every ledger invariant, and no operation can
//! take a client balance below zero.

use outlay_core::ledger::{Auditor, Book, Kind, LedgerKey, Overdraft, Reference, Violation, rules};
use outlay_core::{AccountId, Amount, Currency};
use proptest::prelude::*;
use uuid::Uuid;

#[derive(Clone, Debug)]
enum Op {
    Deposit { client: usize, amount: i64 },
    Clear { client: usize, amount: i64 },
    Hold { client: usize, amount: i64 },
    Post { client: usize, amount: i64, fee: i64 },
    Void { client: usize, amount: i64 },
    Reserve { client: usize, delta: i64 },
    LateReturn { client: usize, amount: i64 },
    Convert { client: usize, usd_to_eur: bool, sell: i64, buy: i64 },
    // --- wallets ---
    WalletCredit { client: usize, wallet: usize, amount: i64 },
    WalletHold { client: usize, wallet: usize, amount: i64 },
    WalletVoid { client: usize, wallet: usize, amount: i64 },
    WalletReturn { client: usize, wallet: usize, amount: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    let client = 0..3usize;
    let amount = 1..5_000i64;
    prop_oneof![
        (client.clone(), amount.clone()).prop_map(|(client, amount)| Op::Deposit { client, amount }),
        (client.clone(), amount.clone()).prop_map(|(client, amount)| Op::Clear { client, amount }),
        (client.clone(), amount.clone()).prop_map(|(client, amount)| Op::Hold { client, amount }),
        (client.clone(), amount.clone(), 0..100i64).prop_map(|(client, amount, fee)| Op::Post { client, amount, fee }),
        (client.clone(), amount.clone()).prop_map(|(client, amount)| Op::Void { client, amount }),
        (client.clone(), -5_000..5_000i64).prop_map(|(client, delta)| Op::Reserve { client, delta }),
        (client.clone(), amount.clone()).prop_map(|(client, amount)| Op::LateReturn { client, amount }),
        (client, any::<bool>(), amount.clone(), amount).prop_map(|(client, usd_to_eur, sell, buy)| Op::Convert {
            client,
            usd_to_eur,
            sell,
            buy
        }),
        (0..3usize, 0..2usize, 1..5_000i64).prop_map(|(client, wallet, amount)| Op::WalletCredit {
            client,
            wallet,
            amount
        }),
        (0..3usize, 0..2usize, 1..5_000i64).prop_map(|(client, wallet, amount)| Op::WalletHold {
            client,
            wallet,
            amount
        }),
        (0..3usize, 0..2usize, 1..5_000i64).prop_map(|(client, wallet, amount)| Op::WalletVoid {
            client,
            wallet,
            amount
        }),
        (0..3usize, 0..2usize, 1..5_000i64).prop_map(|(client, wallet, amount)| Op::WalletReturn {
            client,
            wallet,
            amount
        }),
    ]
}

fn amount(minor: i64) -> Amount {
    Amount::from_minor(minor).expect("generated in range")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_sequence_keeps_every_invariant(ops in prop::collection::vec(op(), 1..120)) {
        let usd = Currency::parse("USD").expect("USD");
        let eur = Currency::parse("EUR").expect("EUR");
        let clients: Vec<AccountId> = (0..3).map(|_| AccountId(Uuid::new_v4())).collect();
        let wallets: Vec<Uuid> = (0..2).map(|_| Uuid::new_v4()).collect();
        let mut book = Book::new();
        for (i, op) in ops.iter().enumerate() {
            let reference = Reference { kind: "test", id: Uuid::new_v4() };
            let draft = match *op {
                Op::Deposit { client, amount: a } => Some(rules::deposit_received(clients[client], usd, amount(a), reference)),
                Op::Clear { client, amount: a } => Some(rules::deposit_cleared(clients[client], usd, amount(a), reference)),
                Op::Hold { client, amount: a } => Some(rules::hold(clients[client], usd, amount(a), reference)),
                Op::Post { client, amount: a, fee } => Some(rules::post_hold(clients[client], usd, amount(a), amount(fee), reference)),
                Op::Void { client, amount: a } => Some(rules::void_hold(clients[client], usd, amount(a), reference)),
                Op::Reserve { client, delta } => rules::adjust_reserve(clients[client], usd, delta, reference),
                Op::LateReturn { client, amount: a } => Some(rules::late_return(clients[client], usd, amount(a), reference)),
                Op::Convert { client, usd_to_eur, sell, buy } => {
                    let (from, to) = if usd_to_eur { (usd, eur) } else { (eur, usd) };
                    Some(rules::conversion(clients[client], from, amount(sell), to, amount(buy), reference))
                }
                Op::WalletCredit { client, wallet, amount: a } => Some(rules::wallet_credit(clients[client], usd, wallets[wallet], amount(a), reference)),
                Op::WalletHold { client, wallet, amount: a } => Some(rules::wallet_hold(clients[client], usd, wallets[wallet], amount(a), reference)),
                Op::WalletVoid { client, wallet, amount: a } => Some(rules::void_wallet_hold(clients[client], usd, wallets[wallet], amount(a), reference)),
                Op::WalletReturn { client, wallet, amount: a } => Some(rules::late_return_to_wallet(clients[client], usd, wallets[wallet], amount(a), reference)),
            };
            let Some(draft) = draft else { continue };
            prop_assert!(draft.validate().is_ok());
            let before: Vec<(LedgerKey, i64)> = book.balances().map(|(k, v)| (k.clone(), *v)).collect();
            match book.post(&draft, format!("e{i}"), i as i64) {
                Ok(()) => {}
                Err(Overdraft::Insufficient { .. }) => {
                    // A refused entry changes nothing.
                    let after: Vec<(LedgerKey, i64)> = book.balances().map(|(k, v)| (k.clone(), *v)).collect();
                    prop_assert_eq!(before, after);
                }
                Err(Overdraft::Invalid(e)) => prop_assert!(false, "rule produced an invalid draft: {e}"),
            }
            for (key, balance) in book.balances() {
                if key.must_stay_non_negative() {
                    prop_assert!(*balance >= 0, "{key} went negative");
                }
            }
        }

        let mut auditor = Auditor::new();
        for entry in book.entries() {
            auditor.feed(entry);
        }
        for client in &clients {
            let (seq, hash) = book.head(*client).cloned().unwrap_or((0, outlay_core::ledger::GENESIS_HASH.to_owned()));
            auditor.check_chain_head(*client, seq, &hash);
        }
        let stored: Vec<(LedgerKey, i64)> = book.balances().filter(|(k, _)| k.must_stay_non_negative()).map(|(k, v)| (k.clone(), *v)).collect();
        let report = auditor.finish(stored);
        prop_assert!(report.violations.is_empty(), "{:?}", report.violations);

        // Money is conserved per currency: the platform's FBO cash is exactly what clients hold,
        // plus revenue, plus the FX position the platform took by converting for them.
        for currency in [usd, eur] {
            let total: i64 = report.balances.iter().filter(|(k, _)| k.currency == currency).map(|(_, v)| *v).sum();
            prop_assert_eq!(total, 0);
            let fbo = book.balance(&LedgerKey::platform(currency, Kind::FboBank));
            let held: i64 = book
                .balances()
                .filter(|(k, _)| k.must_stay_non_negative() && k.currency == currency)
                .map(|(_, v)| *v)
                .sum();
            let revenue = book.balance(&LedgerKey::platform(currency, Kind::FeeRevenue));
            let fx = book.balance(&LedgerKey::platform(currency, Kind::FxPosition));
            prop_assert_eq!(-fbo, held + revenue + fx);
        }
    }

    #[test]
    fn tampering_with_any_entry_is_detected(ops in prop::collection::vec(1..1_000i64, 2..20), victim in any::<prop::sample::Index>(), delta in 1..50i64) {
        let usd = Currency::parse("USD").expect("USD");
        let client = AccountId(Uuid::new_v4());
        let mut book = Book::new();
        for (i, a) in ops.iter().enumerate() {
            let reference = Reference { kind: "deposit", id: Uuid::new_v4() };
            book.post(&rules::deposit_received(client, usd, amount(*a), reference), format!("e{i}"), i as i64).expect("deposit");
        }
        let mut entries = book.entries().to_vec();
        let i = victim.index(entries.len());
        entries[i].lines[1].amount += delta;
        entries[i].lines[0].amount -= delta;
        let mut auditor = Auditor::new();
        for e in &entries {
            auditor.feed(e);
        }
        let report = auditor.finish(Vec::new());
        let detected = report.violations.iter().any(|v| matches!(v, Violation::HashMismatch { .. }));
        prop_assert!(detected, "tampering not detected");
    }
}
