//! `outlay ledger verify`: proves every invariant of DESIGN.md section 3 from the stored rows.

use std::collections::HashMap;

use outlay_core::ledger::Auditor;
use outlay_core::payout::PayoutState;
use outlay_store::{Store, StoreResult};

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

pub async fn verify_ledger(store: &dyn Store) -> StoreResult<VerifyReport> {
    let mut auditor = Auditor::new();
    let mut after = None;
    loop {
        let page = store.audit_entries(after, 2_000).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.owner, last.seq));
        for entry in &page {
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

    let mut pending: HashMap<(String, String), i64> = HashMap::new();
    for p in store.audit_pending_by_reference().await? {
        *pending.entry((p.reference_type, p.reference_id)).or_default() += p.net_pending;
    }
    // A batch held as a whole: its entries and its payouts' together hold what its payouts'
    // statuses say plus what it still holds for rows not created yet (the payouts it paid from
    // its hold have no hold entry of their own). (actual, expected) per batch.
    let mut pools: HashMap<String, (i64, i64)> = HashMap::new();
    for (batch, still_held) in store.audit_batch_holds().await? {
        let id = batch.to_string();
        let actual = pending.remove(&(crate::ops::batches::BATCH_REFERENCE.to_owned(), id.clone())).unwrap_or_default();
        pools.insert(id, (actual, still_held));
    }
    for object in store.audit_holdable_objects().await? {
        out.holds_checked += 1;
        let expected = expected_pending(&object.reference_type, &object.status, object.amount, object.fee);
        let key = (object.reference_type.clone(), object.reference_id.clone());
        let actual = pending.remove(&key).unwrap_or_default();
        if let Some(pool) = object.batch_id.as_ref().and_then(|b| pools.get_mut(b)) {
            pool.0 += actual;
            pool.1 += expected;
            continue;
        }
        if actual != expected {
            out.violations.push(format!(
                "{} {} is {} and should hold {expected} in pending, the ledger holds {actual}",
                object.reference_type, object.reference_id, object.status
            ));
        }
    }
    for (batch, (actual, expected)) in pools {
        if actual != expected {
            out.violations.push(format!(
                "payout batch {batch} (held as a whole) and its payouts should hold {expected} in pending, the ledger holds {actual}"
            ));
        }
    }
    for ((reference_type, reference_id), amount) in pending {
        if amount != 0 && reference_type != "reserve" {
            out.violations
                .push(format!("{amount} sits in pending for {reference_type} {reference_id}, which does not exist"));
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
