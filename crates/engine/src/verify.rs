//! `outlay ledger verify`: proves every invariant of DESIGN.md section 3 from the stored rows.

use std::collections::HashMap;

use outlay_core::ledger::Auditor;
use outlay_core::payout::PayoutState;
use outlay_store::{HoldableKind, Store, StoreResult};

#[derive(Debug, Default)]
pub struct VerifyReport {
    pub entries: u64,
    pub lines: u64,
    pub chains: u64,
    pub balances_checked: u64,
    pub holds_checked: u64,
    pub violations: Vec<String>,
    /// Per currency, in minor units; `fbo_cash` always equals the sum of the others.
    pub totals: Vec<CurrencyTotals>,
}

/// Where the cash at the FBO bank is owed, in one currency.
#[derive(Debug, Default, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CurrencyTotals {
    pub currency: String,
    /// Cash held at the FBO bank (the platform asset, so minus its ledger balance).
    pub fbo_cash: i64,
    /// Every client balance: available, pending, reserve and wallets.
    pub client_balances: i64,
    pub fee_revenue: i64,
    /// The platform's net position from conversions: positive when it holds this currency that
    /// clients sold, negative when it owes this currency that clients bought (to be squared with
    /// its liquidity provider).
    pub fx_position: i64,
    /// Any other platform account, such as money handed to a rail and not yet confirmed.
    pub other_platform: i64,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    pub fn checks(&self) -> Vec<String> {
        vec![
            format!("{} journal entries ({} lines) each balance per currency", self.entries, self.lines),
            format!("{} per-account hash chains are unbroken and match their heads (no row edited)", self.chains),
            format!("{} client balances equal the sum of their entries and are not negative", self.balances_checked),
            "no client balance went negative at any point of its chain".to_owned(),
            format!("{} deposits, withdrawals and payouts hold exactly what their status says", self.holds_checked),
            "every account, journal entry, ledger account, beneficiary and payout a ledger or payout row names exists"
                .to_owned(),
        ]
    }
}

/// What an object's status says should sit in the client's `pending` balance.
fn expected_pending(reference_type: &str, status: &str, amount: i64, fee: i64) -> i64 {
    match (reference_type, status) {
        ("deposit", "PENDING") => amount,
        ("withdrawal", "PENDING") => amount + fee,
        ("payout", state) if state.parse::<PayoutState>().is_ok_and(PayoutState::holds_funds) => amount + fee,
        _ => 0,
    }
}

/// Objects read per page by the hold checks: memory is bounded by this, not by the ledger.
const HOLD_PAGE: u32 = 5_000;

pub async fn verify_ledger(store: &dyn Store) -> StoreResult<VerifyReport> {
    verify_ledger_paged(store, HOLD_PAGE).await
}

/// [`verify_ledger`] reading `page` objects at a time (tests use small pages to cross pages).
pub async fn verify_ledger_paged(store: &dyn Store, page: u32) -> StoreResult<VerifyReport> {
    // Every read at one instant: on a live system a commit between two reads (heads after
    // entries, objects after their lines) would otherwise show as a violation.
    let snapshot = store.snapshot().await?;
    let store = snapshot.as_ref();
    let mut auditor = Auditor::new();
    let mut after = None;
    loop {
        let entries = store.audit_entries(after, 2_000).await?;
        let Some(last) = entries.last() else { break };
        after = Some((last.owner, last.seq));
        for entry in &entries {
            auditor.feed(entry);
        }
    }
    for (owner, seq, hash) in store.audit_chain_heads().await? {
        auditor.check_chain_head(owner, seq, &hash);
    }
    let report = auditor.finish(store.audit_balances().await?);
    let mut out = VerifyReport {
        entries: report.entries,
        lines: report.lines,
        chains: report.chains,
        balances_checked: report.balances_checked,
        violations: report.violations.iter().map(ToString::to_string).collect(),
        ..VerifyReport::default()
    };

    hold_checks(store, page, &mut out).await?;
    // References PostgreSQL does not enforce with foreign keys on the payout path.
    for (what, count) in store.audit_dangling_references().await? {
        if count > 0 {
            out.violations.push(format!("{count} {what}"));
        }
    }

    // Both sides of an internal transfer are written together: its clearing account nets to zero.
    for (key, balance) in &report.balances {
        if key.kind == outlay_core::ledger::Kind::Clearing(outlay_core::ledger::rules::TRANSFER_CLEARING.to_owned())
            && *balance != 0
        {
            out.violations
                .push(format!("internal transfer clearing in {} does not net to zero ({balance})", key.currency));
        }
    }
    // --- wallets ---
    wallet_checks(store, &mut out).await?;

    let mut totals: HashMap<String, CurrencyTotals> = HashMap::new();
    for (key, balance) in &report.balances {
        let code = key.currency.code();
        let t = totals
            .entry(code.to_owned())
            .or_insert_with(|| CurrencyTotals { currency: code.to_owned(), ..Default::default() });
        match key.kind {
            outlay_core::ledger::Kind::FboBank => t.fbo_cash -= balance,
            outlay_core::ledger::Kind::FeeRevenue => t.fee_revenue += balance,
            outlay_core::ledger::Kind::FxPosition => t.fx_position += balance,
            ref k if k.is_client_owned() => t.client_balances += balance,
            _ => t.other_platform += balance,
        }
    }
    let mut totals: Vec<_> = totals.into_values().collect();
    totals.sort();
    out.totals = totals;
    Ok(out)
}

/// Every deposit, withdrawal and payout holds in `pending` exactly what its status says; a batch
/// held as a whole holds, with its payouts, what their statuses say plus what it still holds
/// for rows not created yet (the payouts it paid from its hold have no hold entry of their
/// own); nothing else holds anything, but reserves. The objects are read a page at a time, each
/// with its own sum; only the batches and references that are not objects are kept.
async fn hold_checks(store: &dyn Store, page: u32, out: &mut VerifyReport) -> StoreResult<()> {
    // (actual, expected) per batch held as a whole.
    let mut pools: HashMap<String, (i64, i64)> =
        store.audit_batch_holds().await?.into_iter().map(|(batch, still)| (batch.to_string(), (0, still))).collect();
    for p in store.audit_pending_elsewhere().await? {
        let pool = (p.reference_type == crate::ops::batches::BATCH_REFERENCE)
            .then(|| pools.get_mut(&p.reference_id))
            .flatten();
        match pool {
            Some(pool) => pool.0 += p.net_pending,
            None if p.net_pending != 0 && p.reference_type != "reserve" => out.violations.push(format!(
                "{} sits in pending for {} {}, which does not exist",
                p.net_pending, p.reference_type, p.reference_id
            )),
            None => {}
        }
    }
    for kind in HoldableKind::ALL {
        let mut after = None;
        loop {
            let objects = store.audit_holdable_page(kind, after, page).await?;
            for object in &objects {
                out.holds_checked += 1;
                let expected = expected_pending(&object.reference_type, &object.status, object.amount, object.fee);
                if let Some(pool) = object.batch_id.as_ref().and_then(|b| pools.get_mut(b)) {
                    pool.0 += object.held;
                    pool.1 += expected;
                } else if object.held != expected {
                    out.violations.push(format!(
                        "{} {} is {} and should hold {expected} in pending, the ledger holds {}",
                        object.reference_type, object.reference_id, object.status, object.held
                    ));
                }
            }
            let Some(last) = objects.last().filter(|_| objects.len() >= page as usize) else { break };
            let id = last.reference_id.parse().map_err(|e| {
                outlay_store::StoreError::Database(format!("{} id {:?}: {e}", last.reference_type, last.reference_id))
            })?;
            after = Some(id);
        }
    }
    let mut pools: Vec<_> = pools.into_iter().collect();
    pools.sort();
    for (batch, (actual, expected)) in pools {
        if actual != expected {
            out.violations.push(format!(
                "payout batch {batch} (held as a whole) and its payouts should hold {expected} in pending, the ledger holds {actual}"
            ));
        }
    }
    Ok(())
}

/// What a wallet withdrawal's status says it took out of its wallet, net: the hold while it is
/// in flight or once completed, nothing after a void, the fee only after a late return.
fn expected_wallet_net(state: &str, amount: i64, fee: i64) -> i64 {
    match state.parse::<PayoutState>() {
        Ok(s) if s.holds_funds() || s == PayoutState::Completed => -(amount + fee),
        Ok(PayoutState::Returned) => -fee,
        _ => 0,
    }
}

/// Wallets (stored-value model): each withdrawal moved exactly what its status says out of its
/// own recipient's wallet (a void or a return to another wallet or to `available` is caught), and
/// no other payout touched a wallet. That every wallet stays non-negative is checked with every
/// client balance above.
async fn wallet_checks(store: &dyn Store, out: &mut VerifyReport) -> StoreResult<()> {
    let mut lines: HashMap<(String, String), Vec<(String, i64)>> = HashMap::new();
    for w in store.audit_wallet_by_reference().await? {
        lines.entry((w.reference_type, w.reference_id)).or_default().push((w.kind, w.net));
    }
    for w in store.audit_wallet_withdrawals().await? {
        out.holds_checked += 1;
        let expected = expected_wallet_net(&w.state, w.amount, w.fee);
        let own = format!("wallet:{}", w.recipient_id);
        let moved = lines.remove(&("payout".to_owned(), w.payout_id.clone())).unwrap_or_default();
        let actual: i64 = moved.iter().filter(|(k, _)| *k == own).map(|(_, n)| n).sum();
        if actual != expected {
            out.violations.push(format!(
                "wallet withdrawal {} is {} and should have moved {expected} out of {own}, the ledger shows {actual}",
                w.payout_id, w.state
            ));
        }
        for (kind, net) in moved.iter().filter(|(k, n)| *k != own && *n != 0) {
            out.violations.push(format!("wallet withdrawal {} moved {net} on another wallet ({kind})", w.payout_id));
        }
    }
    for ((reference_type, reference_id), moved) in lines {
        if reference_type == "payout" && moved.iter().any(|(_, n)| *n != 0) {
            out.violations
                .push(format!("payout {reference_id} moved money on a wallet but is not a wallet withdrawal"));
        }
    }
    Ok(())
}
