//! `outlay audit verify|export`: check every account's audit chain (kept apart from `outlay
//! ledger verify`, which checks the money), and export one account's trail. Also the audit
//! context the operator's own mutating commands are recorded under (credential `operator`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;
use outlay_core::AccountId;
use outlay_engine::audit::{AuditContext, ExportFormat, OPERATOR};
use outlay_engine::{Command, Engine, Outcome, WriteResult};
use outlay_store::AuditFilter;
use serde_json::json;

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Check every account's audit chain; exit 1 naming each broken record.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Write one account's audit trail, in chain order, to stdout or a file.
    Export {
        #[arg(long)]
        account: String,
        /// csv (default) or jsonl.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Only this action (e.g. payout.create).
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

pub async fn run(engine: Arc<Engine>, cmd: AuditCmd) -> anyhow::Result<i32> {
    match cmd {
        AuditCmd::Verify { json } => verify(&engine, json).await,
        AuditCmd::Export { account, format, action, output } => {
            let account: AccountId =
                account.parse().map_err(|_| anyhow::anyhow!("--account: {account} is not an account id (a UUID)"))?;
            let format = match format.as_str() {
                "csv" => ExportFormat::Csv,
                "jsonl" => ExportFormat::Jsonl,
                other => bail!("--format must be csv or jsonl (got {other:?})"),
            };
            let filter = AuditFilter { action, ..AuditFilter::default() };
            let text = outlay_engine::audit::export(engine.store().as_ref(), account, &filter, format).await?;
            match output {
                Some(path) => std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(0)
        }
    }
}

async fn verify(engine: &Engine, json: bool) -> anyhow::Result<i32> {
    let report = outlay_engine::audit::verify(engine.store().as_ref()).await?;
    let ok = report.breaks.is_empty();
    if json {
        let breaks: Vec<_> = report
            .breaks
            .iter()
            .map(|b| json!({"account_id": b.account_id, "seq": b.seq, "audit_event_id": b.id, "problem": b.problem}))
            .collect();
        println!("{}", json!({"ok": ok, "chains": report.chains, "records": report.records, "breaks": breaks}));
    } else {
        println!("checked: {} audit chain(s), {} record(s)", report.chains, report.records);
        for b in &report.breaks {
            println!("BROKEN: account {} record {} ({}): {}", b.account_id, b.seq, b.id, b.problem);
        }
        if ok {
            println!("audit trail OK");
        } else {
            println!("audit verification FAILED: {} broken record(s)", report.breaks.len());
        }
    }
    Ok(if ok { 0 } else { 1 })
}

/// Run an operator command with its audit record written in the same transaction (credential
/// `operator`, role `admin`, no source address: it ran on the host).
pub async fn operator_execute(
    engine: &Engine,
    account: AccountId,
    action: &str,
    command: Command,
) -> Result<Outcome, outlay_engine::CommandError> {
    let ctx = AuditContext {
        account,
        credential_id: OPERATOR.to_owned(),
        role: "admin".to_owned(),
        source_ip: None,
        user_agent: Some(format!("outlay-cli/{}", env!("CARGO_PKG_VERSION"))),
        request_id: None,
        action: action.to_owned(),
        object_id: None,
        render: None,
    };
    match engine.execute_audited(command, None, ctx.clone()).await {
        Ok(WriteResult::Done { outcome, .. }) => Ok(*outcome),
        Ok(WriteResult::Replayed(_)) => Err(outlay_engine::CommandError::Internal("replay without a key".into())),
        Err(e) => {
            // The refusal is part of the trail too.
            let code = match &e {
                outlay_engine::CommandError::InsufficientFunds { .. } => "insufficient_balance".to_owned(),
                outlay_engine::CommandError::NotFound { .. } => "not_found".to_owned(),
                outlay_engine::CommandError::Rejected { code, .. } => (*code).to_owned(),
                _ => "failed".to_owned(),
            };
            let _ = engine.record_audit(ctx.draft(engine.clock().now(), 400, Some(code))).await;
            Err(e)
        }
    }
}
