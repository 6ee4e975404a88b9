//! Paging through the payouts still on their way, for a rail pass or the sandbox settler.

use std::collections::HashSet;

use outlay_store::{OpenPayouts, PayoutRow, Store, StoreResult};
use time::OffsetDateTime;
use uuid::Uuid;

/// Rows per page: a pass reads every page, so this bounds memory, not the work.
const PAGE: u32 = 500;

/// The open payouts last changed by `now`, a page at a time, every one of them once (a pass
/// that stopped after one page would never reach a due payout behind a page of waiting ones).
pub struct OpenPayoutPages {
    query: OpenPayouts,
    done: bool,
    /// Payouts the pass moved: their new `updated_at` may still be `now` (a manual clock, or the
    /// same millisecond), which would bring them round again on a later page.
    moved: HashSet<Uuid>,
}

impl OpenPayoutPages {
    pub fn new(now: OffsetDateTime) -> Self {
        // A day past today's UTC date is on or after today's date in every time zone; the
        // caller checks each payout's own corridor (`EngineConfig::release_due`).
        let scheduled_due_by = now.date().next_day().unwrap_or(now.date());
        let query = OpenPayouts { changed_by: now, scheduled_due_by, after: None, limit: PAGE };
        Self { query, done: false, moved: HashSet::new() }
    }

    /// The pass moved this payout: later pages leave it out (one step per payout per pass).
    pub fn moved(&mut self, id: Uuid) {
        self.moved.insert(id);
    }

    /// The next page, or `None` after the last.
    pub async fn next(&mut self, store: &dyn Store) -> StoreResult<Option<Vec<PayoutRow>>> {
        if self.done {
            return Ok(None);
        }
        let mut page = store.open_payouts(self.query).await?;
        self.done = page.len() < PAGE as usize;
        let Some(last) = page.last() else { return Ok(None) };
        self.query.after = Some((last.updated_at, last.id));
        page.retain(|p| !self.moved.contains(&p.id));
        Ok(Some(page))
    }
}
