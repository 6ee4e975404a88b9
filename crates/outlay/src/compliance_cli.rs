//! `outlay screening load|list` (the sanctions lists) and `outlay reviews list|show|clear|reject`
//! (the compliance review queue, for the operator's compliance officer).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;
use outlay_core::AccountId;
use outlay_engine::screening::{ReviewDecision, parse_files};
use outlay_engine::{Command, CommandError, Engine, Outcome};
use outlay_store::{PageRequest, ReviewFilter, ScreeningFiles};
use serde_json::json;

#[derive(Subcommand, Debug)]
pub enum ScreeningCmd {
    /// Load the sanctions lists from their published files; the new version replaces the active
    /// one atomically (every node picks it up on its next screening).
    Load {
        /// OFAC SDN list: sdn.csv.
        #[arg(long)]
        ofac: Option<PathBuf>,
        /// OFAC aliases: alt.csv (needs --ofac).
        #[arg(long)]
        ofac_alt: Option<PathBuf>,
        /// OFAC addresses: add.csv (needs --ofac).
        #[arg(long)]
        ofac_add: Option<PathBuf>,
        /// UN Security Council consolidated list (XML).
        #[arg(long)]
        un: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The loaded list versions, newest (active) first.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReviewsCmd {
    /// Reviews, newest first (all accounts unless --account).
    List {
        #[arg(long)]
        account: Option<String>,
        /// open (default), cleared, rejected or all.
        #[arg(long, default_value = "open")]
        status: String,
        #[arg(long)]
        json: bool,
    },
    /// One review with its hits.
    Show { id: String },
    /// Clear a review: a held payout goes on.
    Clear {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a review: a held payout becomes REJECTED and its funds are released.
    Reject {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
}

fn read(path: Option<&Path>) -> anyhow::Result<Option<Vec<u8>>> {
    path.map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display()))).transpose()
}

pub async fn screening(engine: Arc<Engine>, cmd: ScreeningCmd) -> anyhow::Result<i32> {
    match cmd {
        ScreeningCmd::Load { ofac, ofac_alt, ofac_add, un, json } => {
            let files = ScreeningFiles {
                ofac_sdn: read(ofac.as_deref())?,
                ofac_alt: read(ofac_alt.as_deref())?,
                ofac_add: read(ofac_add.as_deref())?,
                un_xml: read(un.as_deref())?,
            };
            // Parse here first, so a bad file is reported before anything is written.
            let parsed = match parse_files(&files) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(2);
                }
            };
            let count = parsed.entries.len();
            let outcome = engine.execute(Command::LoadScreeningList(Box::new(files))).await?;
            let Outcome::ScreeningListLoaded(row) = outcome else { bail!("unexpected outcome {outcome:?}") };
            if json {
                println!(
                    "{}",
                    json!({"version": row.version, "entry_count": row.entry_count, "sha256": row.sha256, "sources": row.sources})
                );
            } else {
                println!("loaded list version {} with {count} entries (sha256 {})", row.version, row.sha256);
            }
            Ok(0)
        }
        ScreeningCmd::List { json } => {
            let lists = engine.store().screening_lists(100).await?;
            if json {
                let rows: Vec<_> = lists
                    .iter()
                    .map(|l| json!({"version": l.version, "loaded_at": l.loaded_at.to_string(), "entry_count": l.entry_count, "sha256": l.sha256, "sources": l.sources}))
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else if lists.is_empty() {
                println!("no sanctions list loaded: payouts and beneficiaries are not screened");
            } else {
                for (i, l) in lists.iter().enumerate() {
                    let active = if i == 0 { " (active)" } else { "" };
                    println!(
                        "version {}{active}: {} entries, loaded {}, sha256 {}",
                        l.version, l.entry_count, l.loaded_at, l.sha256
                    );
                }
            }
            Ok(0)
        }
    }
}

fn parse_uuid(what: &str, text: &str) -> anyhow::Result<uuid::Uuid> {
    text.parse().with_context(|| format!("{what} must be a UUID"))
}

pub async fn reviews(engine: Arc<Engine>, cmd: ReviewsCmd) -> anyhow::Result<i32> {
    let store = engine.store().clone();
    match cmd {
        ReviewsCmd::List { account, status, json } => {
            let account = account.map(|a| parse_uuid("--account", &a).map(AccountId)).transpose()?;
            let status = match status.as_str() {
                "all" => None,
                "open" | "cleared" | "rejected" => Some(status),
                other => bail!("--status must be open, cleared, rejected or all (got {other})"),
            };
            let filter = ReviewFilter { status, subject_type: None };
            let page = store.compliance_reviews(account, &filter, PageRequest { number: 1, size: 1000 }).await?;
            if json {
                let rows: Vec<_> = page
                    .items
                    .iter()
                    .map(|r| json!({"review_id": r.id, "account_id": r.account_id, "subject_type": r.subject_type, "subject_id": r.subject_id, "status": r.status, "reasons": r.reasons, "reviewed_by": r.reviewed_by, "note": r.note}))
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                for r in &page.items {
                    let why: Vec<String> = r
                        .reasons
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|x| match x["kind"].as_str() {
                                    Some("screening_hit") => {
                                        format!(
                                            "{} {} '{}' score {}",
                                            x["source"].as_str().unwrap_or(""),
                                            x["entry_id"].as_str().unwrap_or(""),
                                            x["entry_name"].as_str().unwrap_or(""),
                                            x["score"]
                                        )
                                    }
                                    _ => x["message"].as_str().unwrap_or("").to_owned(),
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    println!(
                        "{} {} {} {} {}: {}",
                        r.id,
                        r.status,
                        r.account_id,
                        r.subject_type,
                        r.subject_id,
                        why.join("; ")
                    );
                }
            }
            Ok(0)
        }
        ReviewsCmd::Show { id } => {
            let id = parse_uuid("review id", &id)?;
            let Some(r) = store.compliance_review(None, id).await? else { bail!("no review {id}") };
            let hits = store.screening_hits(id).await?;
            let hits: Vec<_> = hits
                .iter()
                .map(|h| json!({"list": h.source, "entry_id": h.entry_id, "entry_name": h.entry_name, "matched_name": h.matched_name, "score": h.score, "why": h.why}))
                .collect();
            let body = json!({"review_id": r.id, "account_id": r.account_id, "subject_type": r.subject_type, "subject_id": r.subject_id, "status": r.status, "reasons": r.reasons, "hits": hits, "reviewed_by": r.reviewed_by, "note": r.note});
            println!("{}", serde_json::to_string_pretty(&body)?);
            Ok(0)
        }
        ReviewsCmd::Clear { id, note } => decide(&engine, &id, ReviewDecision::Clear, note).await,
        ReviewsCmd::Reject { id, note } => decide(&engine, &id, ReviewDecision::Reject, note).await,
    }
}

async fn decide(engine: &Engine, id: &str, decision: ReviewDecision, note: Option<String>) -> anyhow::Result<i32> {
    let id = parse_uuid("review id", id)?;
    let Some(review) = engine.store().compliance_review(None, id).await? else { bail!("no review {id}") };
    let command =
        Command::DecideReview { account: Some(review.account_id), review: id, decision, reviewer: None, note };
    let action = match decision {
        ReviewDecision::Clear => "compliance.review.clear",
        ReviewDecision::Reject => "compliance.review.reject",
    };
    match crate::audit_cli::operator_execute(engine, review.account_id, action, command).await {
        Ok(_) => {
            println!("review {id} {}", decision.status());
            Ok(0)
        }
        Err(CommandError::InvalidState(m)) => {
            eprintln!("error: {m}");
            Ok(1)
        }
        Err(e) => Err(e.into()),
    }
}
