//! The bank-file rail: one ISO 20022 pain.001.001.09 file per batch of payouts, written to an
//! outbox directory the bank (or an SFTP job) picks up; pain.002 status reports read from an
//! inbox directory. Files are written as `NAME.part` and renamed, so a pickup never sees half a
//! file. Processed reports move to `inbox/processed/`, unreadable ones to `inbox/failed/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use outlay_core::Currency;
use outlay_core::iso20022::{self, CreditTransfer, CreditorAccount, Debtor, Pain001, TxStatus};
use outlay_engine::Clock;
use outlay_store::PayoutRow;
use serde_json::Value;

use super::{Rail, RailError, RailOutcome, StatusReport, Submission};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankFileConfig {
    pub outbox: PathBuf,
    pub inbox: PathBuf,
    /// Shown as the initiating party.
    pub initiating_party: String,
    /// The platform's FBO account money leaves from.
    pub debtor: Debtor,
}

pub struct BankFileRail {
    config: BankFileConfig,
    clock: Arc<dyn Clock>,
}

impl BankFileRail {
    pub fn new(config: BankFileConfig, clock: Arc<dyn Clock>) -> std::io::Result<Self> {
        std::fs::create_dir_all(&config.outbox)?;
        std::fs::create_dir_all(config.inbox.join("processed"))?;
        std::fs::create_dir_all(config.inbox.join("failed"))?;
        Ok(Self { config, clock })
    }

    /// The file for one submission. The message id is the submission's (the job's) id, so a
    /// submission run again after a crash writes the same MsgId, which banks refuse as a
    /// duplicate rather than pay twice.
    pub fn document(&self, submission: uuid::Uuid, payouts: &[PayoutRow]) -> Result<Pain001, RailError> {
        let now = self.clock.now();
        // Max35Text: "OUT" and the 32 hex digits of the id.
        let message_id = format!("OUT{}", submission.simple().to_string().to_uppercase());
        let transfers = payouts.iter().map(credit_transfer).collect::<Result<Vec<_>, _>>()?;
        Ok(Pain001 {
            message_id,
            created_at: now,
            initiating_party: self.config.initiating_party.clone(),
            debtor: self.config.debtor.clone(),
            transfers,
        })
    }
}

fn field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// A payout as a credit transfer: its destination amount and currency, to the beneficiary
/// snapshot it was created with.
pub fn credit_transfer(p: &PayoutRow) -> Result<CreditTransfer, RailError> {
    let b = &p.beneficiary;
    let bank = b.get("bank_details").unwrap_or(&Value::Null);
    let name = field(bank, "account_holder")
        .map(str::to_owned)
        .or_else(|| field(b, "company_name").map(str::to_owned))
        .or_else(|| {
            let full =
                [field(b, "first_name"), field(b, "last_name")].into_iter().flatten().collect::<Vec<_>>().join(" ");
            (!full.is_empty()).then_some(full)
        })
        .ok_or_else(|| RailError::Format(format!("payout {}: the beneficiary has no name", p.short_reference_id)))?;
    let account = match (field(bank, "iban"), field(bank, "account_number")) {
        (Some(iban), _) => CreditorAccount::Iban(iban.to_owned()),
        (None, Some(number)) => CreditorAccount::Other(number.to_owned()),
        (None, None) => {
            return Err(RailError::Format(format!("payout {}: the beneficiary has no account", p.short_reference_id)));
        }
    };
    let currency = Currency::parse(&p.payout_currency)
        .map_err(|e| RailError::Format(format!("payout {}: {e}", p.short_reference_id)))?;
    Ok(CreditTransfer {
        end_to_end_id: p.short_reference_id.clone(),
        currency,
        amount_minor: p.payout_amount,
        execution_date: p.payout_date,
        creditor_name: name,
        creditor_account: account,
        creditor_bic: field(bank, "swift_code").map(str::to_owned),
        remittance: p.payout_reference.clone(),
    })
}

/// Write `bytes` as `dir/name` so that no reader sees a partial file.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write as _;
    let part = dir.join(format!("{name}.part"));
    let done = dir.join(name);
    let mut f = std::fs::File::create(&part)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&part, &done)?;
    Ok(done)
}

/// Reports waiting in the inbox: `*.xml` files, oldest name first.
fn inbox_files(inbox: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(inbox)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file() && !name.starts_with('.') && name.to_ascii_lowercase().ends_with(".xml") {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

fn move_into(file: &Path, dir: &Path) -> std::io::Result<()> {
    let Some(name) = file.file_name() else { return Ok(()) };
    std::fs::rename(file, dir.join(name))
}

impl Rail for BankFileRail {
    fn name(&self) -> &'static str {
        "bank_file"
    }

    async fn submit(&self, submission: uuid::Uuid, payouts: &[PayoutRow]) -> Result<Vec<Submission>, RailError> {
        let doc = self.document(submission, payouts)?;
        let xml = doc.to_xml().map_err(|e| RailError::Format(e.to_string()))?;
        let name = format!("pain.001.{}.xml", doc.message_id);
        let outbox = self.config.outbox.clone();
        let path = tokio::task::spawn_blocking(move || {
            let done = outbox.join(&name);
            // Written by an earlier run of this submission that died before recording it.
            if done.exists() { Ok(done) } else { write_atomically(&outbox, &name, xml.as_bytes()) }
        })
        .await
        .map_err(|e| RailError::Format(format!("writer task: {e}")))??;
        tracing::info!(file = %path.display(), payouts = payouts.len(), "pain.001 written");
        Ok(payouts
            .iter()
            .map(|p| Submission {
                payout_id: p.id,
                rail_reference: format!("{}/{}", doc.message_id, p.short_reference_id),
            })
            .collect())
    }

    async fn poll(&self) -> Result<Vec<StatusReport>, RailError> {
        let inbox = self.config.inbox.clone();
        tokio::task::spawn_blocking(move || read_inbox(&inbox))
            .await
            .map_err(|e| RailError::Format(format!("reader task: {e}")))?
    }

    async fn acknowledge(&self, reports: &[StatusReport]) -> Result<(), RailError> {
        let mut sources: Vec<&str> = reports.iter().map(|r| r.source.as_str()).collect();
        sources.sort_unstable();
        sources.dedup();
        let processed = self.config.inbox.join("processed");
        for s in sources {
            let file = self.config.inbox.join(s);
            if file.exists() {
                move_into(&file, &processed)?;
            }
        }
        Ok(())
    }
}

/// The submission (job) id in one of our message ids (`OUT` and the id's 32 hex digits).
fn submission_of(message_id: &str) -> Option<uuid::Uuid> {
    let hex = message_id.strip_prefix("OUT")?;
    (hex.len() == 32).then(|| uuid::Uuid::parse_str(hex).ok()).flatten()
}

/// Every report in the inbox. A file that is not a readable pain.002 moves to `failed/`; a valid
/// one with no final status moves to `processed/` straight away.
fn read_inbox(inbox: &Path) -> Result<Vec<StatusReport>, RailError> {
    let mut reports = Vec::new();
    for file in inbox_files(inbox)? {
        let source = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let parsed = std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|text| iso20022::parse_pain002(&text).map_err(|e| e.to_string()));
        let report = match parsed {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(file = %file.display(), error = %e, "unreadable status report moved to failed/");
                move_into(&file, &inbox.join("failed"))?;
                continue;
            }
        };
        let before = reports.len();
        let whole_file = report.transactions.is_empty();
        for tx in report.transactions {
            let outcome = match tx.status {
                TxStatus::Completed => RailOutcome::Completed,
                TxStatus::Pending(_) => RailOutcome::Pending,
                TxStatus::Rejected { reason_code, additional_info } => {
                    let (code, reason) = iso20022::failure_reason(reason_code.as_deref(), additional_info.as_deref());
                    let detail = reason.strip_prefix(&format!("{code}: ")).unwrap_or(&reason).to_owned();
                    RailOutcome::Failed { code: code.to_owned(), detail }
                }
            };
            reports.push(StatusReport {
                end_to_end_id: tx.end_to_end_id,
                submission: None,
                outcome,
                source: source.clone(),
            });
        }
        // The whole file refused: every payout of the submission it answers failed.
        if let (true, Some(TxStatus::Rejected { reason_code, additional_info })) = (whole_file, &report.group_status) {
            let submission = report.original_message_id.as_deref().and_then(submission_of);
            match submission {
                Some(submission) => {
                    let (code, reason) = iso20022::failure_reason(reason_code.as_deref(), additional_info.as_deref());
                    let detail = reason.strip_prefix(&format!("{code}: ")).unwrap_or(&reason).to_owned();
                    let outcome = RailOutcome::Failed { code: code.to_owned(), detail };
                    reports.push(StatusReport {
                        end_to_end_id: String::new(),
                        submission: Some(submission),
                        outcome,
                        source: source.clone(),
                    });
                }
                None => {
                    tracing::error!(file = %file.display(), original = ?report.original_message_id, "a rejected file that is not one of ours");
                }
            }
        }
        if reports.len() == before {
            move_into(&file, &inbox.join("processed"))?;
        }
    }
    Ok(reports)
}
