//! ISO 20022 bank files: pain.001.001.09 credit-transfer initiations (what Outlay hands its bank)
//! and pain.002.001.10 payment status reports (what the bank answers). Pure: documents in, text
//! out, text in, statuses out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use quick_xml::events::Event;
use quick_xml::reader::Reader;
use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};

use crate::Currency;

pub const PAIN001_NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Iso20022Error {
    #[error("a pain.001 needs at least one credit transfer")]
    Empty,
    #[error("{field}: {problem}")]
    Invalid { field: &'static str, problem: String },
    #[error("pain.002: {0}")]
    Malformed(String),
}

/// The account money leaves from: the platform's FBO account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debtor {
    pub name: String,
    pub iban: String,
    pub bic: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditorAccount {
    Iban(String),
    /// A domestic account number.
    Other(String),
}

/// One payout as a credit transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditTransfer {
    /// The payout's short reference; the bank echoes it in its status report.
    pub end_to_end_id: String,
    pub currency: Currency,
    /// In minor units of `currency`; positive.
    pub amount_minor: i64,
    pub execution_date: Date,
    pub creditor_name: String,
    pub creditor_account: CreditorAccount,
    pub creditor_bic: Option<String>,
    pub remittance: String,
}

/// A whole pain.001 file: one group header, one payment information block per currency and
/// execution date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pain001 {
    /// At most 35 characters; also names the file.
    pub message_id: String,
    pub created_at: OffsetDateTime,
    pub initiating_party: String,
    pub debtor: Debtor,
    pub transfers: Vec<CreditTransfer>,
}

/// Escapes text for element content and attribute values; drops characters XML 1.0 forbids.
pub fn escape(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|c| matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
        .collect();
    quick_xml::escape::escape(clean.as_str()).into_owned()
}

/// At most `max` characters, whitespace collapsed (ISO's MaxNText counts characters).
fn text(value: &str, max: usize) -> String {
    let collapsed = value.split_whitespace().collect::<Vec<_>>().join(" ");
    escape(&collapsed.chars().take(max).collect::<String>())
}

fn decimal(minor: i64, currency: Currency) -> Decimal {
    Decimal::new(minor, currency.exponent())
}

fn compact(value: &str) -> String {
    value.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase()
}

fn check_id(field: &'static str, value: &str) -> Result<(), Iso20022Error> {
    let len = value.chars().count();
    if len == 0 || len > 35 {
        return Err(Iso20022Error::Invalid { field, problem: format!("must be 1 to 35 characters (got {len})") });
    }
    Ok(())
}

impl Pain001 {
    /// The document as UTF-8 XML.
    pub fn to_xml(&self) -> Result<String, Iso20022Error> {
        if self.transfers.is_empty() {
            return Err(Iso20022Error::Empty);
        }
        check_id("message_id", &self.message_id)?;
        let mut groups: BTreeMap<(&'static str, Date), Vec<&CreditTransfer>> = BTreeMap::new();
        let mut total = Decimal::ZERO;
        for t in &self.transfers {
            check_id("end_to_end_id", &t.end_to_end_id)?;
            if t.amount_minor <= 0 {
                return Err(Iso20022Error::Invalid {
                    field: "amount",
                    problem: format!("{} must be positive", t.end_to_end_id),
                });
            }
            total += decimal(t.amount_minor, t.currency);
            groups.entry((t.currency.code(), t.execution_date)).or_default().push(t);
        }
        let mut x = String::with_capacity(1024 + 1024 * self.transfers.len());
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(x, "<Document xmlns=\"{PAIN001_NAMESPACE}\">");
        x.push_str("  <CstmrCdtTrfInitn>\n    <GrpHdr>\n");
        let _ = writeln!(x, "      <MsgId>{}</MsgId>", escape(&self.message_id));
        let _ = writeln!(x, "      <CreDtTm>{}</CreDtTm>", iso_datetime(self.created_at));
        let _ = writeln!(x, "      <NbOfTxs>{}</NbOfTxs>", self.transfers.len());
        let _ = writeln!(x, "      <CtrlSum>{total}</CtrlSum>");
        let _ =
            writeln!(x, "      <InitgPty>\n        <Nm>{}</Nm>\n      </InitgPty>", text(&self.initiating_party, 140));
        x.push_str("    </GrpHdr>\n");
        for (i, ((currency, date), transfers)) in groups.iter().enumerate() {
            let sum: Decimal = transfers.iter().map(|t| decimal(t.amount_minor, t.currency)).sum();
            x.push_str("    <PmtInf>\n");
            let _ = writeln!(x, "      <PmtInfId>{}</PmtInfId>", escape(&pmt_inf_id(&self.message_id, i + 1)));
            x.push_str("      <PmtMtd>TRF</PmtMtd>\n");
            let _ = writeln!(x, "      <NbOfTxs>{}</NbOfTxs>", transfers.len());
            let _ = writeln!(x, "      <CtrlSum>{sum}</CtrlSum>");
            let _ = writeln!(x, "      <ReqdExctnDt>\n        <Dt>{}</Dt>\n      </ReqdExctnDt>", iso_date(*date));
            let _ = writeln!(x, "      <Dbtr>\n        <Nm>{}</Nm>\n      </Dbtr>", text(&self.debtor.name, 140));
            let _ = writeln!(
                x,
                "      <DbtrAcct>\n        <Id>\n          <IBAN>{}</IBAN>\n        </Id>\n        <Ccy>{currency}</Ccy>\n      </DbtrAcct>",
                escape(&compact(&self.debtor.iban))
            );
            let _ = writeln!(
                x,
                "      <DbtrAgt>\n        <FinInstnId>\n          <BICFI>{}</BICFI>\n        </FinInstnId>\n      </DbtrAgt>",
                escape(&compact(&self.debtor.bic))
            );
            x.push_str("      <ChrgBr>SLEV</ChrgBr>\n");
            for t in transfers {
                transfer(&mut x, t);
            }
            x.push_str("    </PmtInf>\n");
        }
        x.push_str("  </CstmrCdtTrfInitn>\n</Document>\n");
        Ok(x)
    }
}

fn pmt_inf_id(message_id: &str, n: usize) -> String {
    let suffix = format!("-{n}");
    let keep = 35 - suffix.len();
    format!("{}{suffix}", message_id.chars().take(keep).collect::<String>())
}

fn transfer(x: &mut String, t: &CreditTransfer) {
    x.push_str("      <CdtTrfTxInf>\n");
    let _ = writeln!(
        x,
        "        <PmtId>\n          <EndToEndId>{}</EndToEndId>\n        </PmtId>",
        escape(&t.end_to_end_id)
    );
    let _ = writeln!(
        x,
        "        <Amt>\n          <InstdAmt Ccy=\"{}\">{}</InstdAmt>\n        </Amt>",
        t.currency.code(),
        decimal(t.amount_minor, t.currency)
    );
    if let Some(bic) = &t.creditor_bic {
        let _ = writeln!(
            x,
            "        <CdtrAgt>\n          <FinInstnId>\n            <BICFI>{}</BICFI>\n          </FinInstnId>\n        </CdtrAgt>",
            escape(&compact(bic))
        );
    }
    let _ = writeln!(x, "        <Cdtr>\n          <Nm>{}</Nm>\n        </Cdtr>", text(&t.creditor_name, 140));
    let id = match &t.creditor_account {
        CreditorAccount::Iban(iban) => format!("<IBAN>{}</IBAN>", escape(&compact(iban))),
        CreditorAccount::Other(number) => {
            format!("<Othr>\n              <Id>{}</Id>\n            </Othr>", text(number, 34))
        }
    };
    let _ = writeln!(x, "        <CdtrAcct>\n          <Id>\n            {id}\n          </Id>\n        </CdtrAcct>");
    if !t.remittance.trim().is_empty() {
        let _ =
            writeln!(x, "        <RmtInf>\n          <Ustrd>{}</Ustrd>\n        </RmtInf>", text(&t.remittance, 140));
    }
    x.push_str("      </CdtTrfTxInf>\n");
}

fn iso_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn iso_datetime(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{}T{:02}:{:02}:{:02}Z", iso_date(t.date()), t.hour(), t.minute(), t.second())
}

/// What the bank says about one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxStatus {
    /// ACSC or ACCC: settled on the creditor's account.
    Completed,
    /// ACSP, ACTC, ACCP, ACWC, PDNG, ...: accepted, still on its way.
    Pending(String),
    /// RJCT, with the first reason code and its additional information.
    Rejected { reason_code: Option<String>, additional_info: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxStatusReport {
    pub end_to_end_id: String,
    pub status: TxStatus,
}

/// A parsed pain.002.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pain002 {
    pub message_id: String,
    pub original_message_id: Option<String>,
    /// `OrgnlGrpInfAndSts/GrpSts`: for a whole file refused (`RJCT`) there may be no
    /// transaction statuses at all, and every payment of the original message failed.
    pub group_status: Option<TxStatus>,
    pub transactions: Vec<TxStatusReport>,
}

#[derive(Default)]
struct TxBuilder {
    end_to_end_id: Option<String>,
    status: Option<String>,
    reason_code: Option<String>,
    additional_info: Option<String>,
}

/// Reads a pain.002 (any version that keeps OrgnlPmtInfAndSts/TxInfAndSts; element names are
/// matched without their namespace).
pub fn parse_pain002(xml: &str) -> Result<Pain002, Iso20022Error> {
    let mut reader = Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut message_id = None;
    let mut original_message_id = None;
    let mut tx: Option<TxBuilder> = None;
    let mut group = TxBuilder::default();
    let mut transactions = Vec::new();
    let mut saw_root = false;
    loop {
        let event = reader.read_event().map_err(|e| Iso20022Error::Malformed(format!("not well-formed XML: {e}")))?;
        match event {
            Event::Start(start) => {
                let name = start.local_name().as_ref().to_owned();
                if path.is_empty() {
                    if name != "Document" {
                        return Err(Iso20022Error::Malformed(format!("the root element is <{name}>, not <Document>")));
                    }
                    saw_root = true;
                }
                if path.len() == 1 && name != "CstmrPmtStsRpt" {
                    return Err(Iso20022Error::Malformed(format!("<{name}> is not a payment status report")));
                }
                if name == "TxInfAndSts" {
                    tx = Some(TxBuilder::default());
                }
                text.clear();
                path.push(name);
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => quick_xml::escape::resolve_predefined_entity(&r.xml10_content()).map(str::to_owned),
                };
                let value = resolved
                    .ok_or_else(|| Iso20022Error::Malformed(format!("unknown entity &{};", r.xml10_content())))?;
                text.push_str(&value);
            }
            Event::End(_) => {
                let Some(name) = path.pop() else { break };
                let value = text.trim().to_owned();
                text.clear();
                let parent = path.last().map(String::as_str).unwrap_or_default();
                match (parent, name.as_str()) {
                    ("GrpHdr", "MsgId") => message_id = Some(value),
                    ("OrgnlGrpInfAndSts", "OrgnlMsgId") => original_message_id = Some(value),
                    ("OrgnlGrpInfAndSts", "GrpSts") => group.status = Some(value),
                    ("Rsn", "Cd" | "Prtry") if tx.is_none() && path.iter().any(|p| p == "OrgnlGrpInfAndSts") => {
                        group.reason_code.get_or_insert(value);
                    }
                    ("StsRsnInf", "AddtlInf") if tx.is_none() && path.iter().any(|p| p == "OrgnlGrpInfAndSts") => {
                        let info = group.additional_info.get_or_insert_with(String::new);
                        if !info.is_empty() {
                            info.push(' ');
                        }
                        info.push_str(&value);
                    }
                    ("TxInfAndSts", "OrgnlEndToEndId") => {
                        if let Some(t) = tx.as_mut() {
                            t.end_to_end_id = Some(value);
                        }
                    }
                    ("TxInfAndSts", "TxSts") => {
                        if let Some(t) = tx.as_mut() {
                            t.status = Some(value);
                        }
                    }
                    ("Rsn", "Cd" | "Prtry") => {
                        if let Some(t) = tx.as_mut().filter(|t| t.reason_code.is_none()) {
                            t.reason_code = Some(value);
                        }
                    }
                    ("StsRsnInf", "AddtlInf") => {
                        if let Some(t) = tx.as_mut() {
                            let info = t.additional_info.get_or_insert_with(String::new);
                            if !info.is_empty() {
                                info.push(' ');
                            }
                            info.push_str(&value);
                        }
                    }
                    (_, "TxInfAndSts") => {
                        let t = tx.take().unwrap_or_default();
                        transactions.push(finish(t, transactions.len() + 1)?);
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            Event::Empty(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !saw_root {
        return Err(Iso20022Error::Malformed("no <Document> element".into()));
    }
    if !path.is_empty() {
        return Err(Iso20022Error::Malformed(format!("<{}> is not closed", path.join("/"))));
    }
    let message_id = message_id.ok_or_else(|| Iso20022Error::Malformed("GrpHdr/MsgId is missing".into()))?;
    let group_status = match group.status.as_deref() {
        None => None,
        Some("RJCT") => {
            Some(TxStatus::Rejected { reason_code: group.reason_code, additional_info: group.additional_info })
        }
        Some("ACSC" | "ACCC") => Some(TxStatus::Completed),
        Some(other) if other.len() == 4 && other.chars().all(|c| c.is_ascii_uppercase()) => {
            Some(TxStatus::Pending(other.to_owned()))
        }
        Some(other) => return Err(Iso20022Error::Malformed(format!("unknown GrpSts {other:?}"))),
    };
    Ok(Pain002 { message_id, original_message_id, group_status, transactions })
}

fn finish(t: TxBuilder, n: usize) -> Result<TxStatusReport, Iso20022Error> {
    let end_to_end_id = t
        .end_to_end_id
        .filter(|e| !e.is_empty())
        .ok_or_else(|| Iso20022Error::Malformed(format!("TxInfAndSts #{n} has no OrgnlEndToEndId")))?;
    let code = t.status.ok_or_else(|| Iso20022Error::Malformed(format!("TxInfAndSts {end_to_end_id} has no TxSts")))?;
    let status = match code.as_str() {
        "ACSC" | "ACCC" => TxStatus::Completed,
        "RJCT" => TxStatus::Rejected { reason_code: t.reason_code, additional_info: t.additional_info },
        other if other.len() == 4 && other.chars().all(|c| c.is_ascii_uppercase()) => TxStatus::Pending(code),
        other => return Err(Iso20022Error::Malformed(format!("TxInfAndSts {end_to_end_id}: unknown TxSts {other:?}"))),
    };
    Ok(TxStatusReport { end_to_end_id, status })
}

/// Outlay's normalised failure code for an ISO 20022 status reason code, and the code's name.
pub fn normalise_reason(code: &str) -> (&'static str, &'static str) {
    match code {
        "AC01" => ("invalid_account", "IncorrectAccountNumber"),
        "AC02" => ("invalid_account", "InvalidDebtorAccountNumber"),
        "AC03" => ("invalid_account", "InvalidCreditorAccountNumber"),
        "AC04" => ("account_closed", "ClosedAccountNumber"),
        "AC06" => ("account_blocked", "BlockedAccount"),
        "AC13" => ("invalid_account", "InvalidDebtorAccountType"),
        "AG01" => ("rejected_by_bank", "TransactionForbidden"),
        "AM04" => ("insufficient_funds", "InsufficientFunds"),
        "AM05" => ("duplicate", "Duplication"),
        "BE01" => ("beneficiary_mismatch", "InconsistentWithEndCustomer"),
        "BE04" => ("invalid_beneficiary", "MissingCreditorAddress"),
        "MD07" => ("beneficiary_deceased", "EndCustomerDeceased"),
        "MS02" => ("rejected_by_beneficiary", "NotSpecifiedReasonCustomerGenerated"),
        "MS03" => ("rejected_by_bank", "NotSpecifiedReasonAgentGenerated"),
        "RC01" => ("invalid_bank", "BankIdentifierIncorrect"),
        "RR04" => ("regulatory", "RegulatoryReason"),
        "FF01" => ("rejected_by_bank", "InvalidFileFormat"),
        _ => ("rejected_by_bank", ""),
    }
}

/// The failure reason kept on a payout: the normalised code, then the bank's raw detail
/// (`account_closed: AC04 ClosedAccountNumber`).
pub fn failure_reason(reason_code: Option<&str>, additional_info: Option<&str>) -> (&'static str, String) {
    let (normalised, name) = reason_code.map_or(("rejected_by_bank", ""), normalise_reason);
    let mut detail = reason_code.unwrap_or("RJCT").to_owned();
    if !name.is_empty() {
        detail.push(' ');
        detail.push_str(name);
    }
    if let Some(info) = additional_info.filter(|i| !i.is_empty()) {
        detail.push_str(" (");
        detail.push_str(info);
        detail.push(')');
    }
    (normalised, format!("{normalised}: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Pain001 {
        let sgd = Currency::parse("SGD").expect("SGD");
        let eur = Currency::parse("EUR").expect("EUR");
        let date = time::macros::date!(2026 - 11 - 24);
        Pain001 {
            message_id: "OUT20261124020000-ABC".into(),
            created_at: time::macros::datetime!(2026-11-24 02:00:00 UTC),
            initiating_party: "Outlay".into(),
            debtor: Debtor {
                name: "Outlay FBO".into(),
                iban: "DE89 3704 0044 0532 0130 00".into(),
                bic: "COBADEFFXXX".into(),
            },
            transfers: vec![
                CreditTransfer {
                    end_to_end_id: "P261124-AAAA".into(),
                    currency: sgd,
                    amount_minor: 25_000,
                    execution_date: date,
                    creditor_name: "Lion & City <Trading> \"Pte\"".into(),
                    creditor_account: CreditorAccount::Other("0123456789".into()),
                    creditor_bic: Some("DBSSSGSG".into()),
                    remittance: "Salary November".into(),
                },
                CreditTransfer {
                    end_to_end_id: "P261124-BBBB".into(),
                    currency: eur,
                    amount_minor: 105,
                    execution_date: date,
                    creditor_name: "Jane Smith".into(),
                    creditor_account: CreditorAccount::Iban("GB82 WEST 1234 5698 7654 32".into()),
                    creditor_bic: Some("WESTGB2L".into()),
                    remittance: String::new(),
                },
            ],
        }
    }

    #[test]
    fn builds_one_payment_block_per_currency_with_exact_sums_and_escaping() {
        let xml = doc().to_xml().expect("builds");
        assert!(xml.contains("<NbOfTxs>2</NbOfTxs>"));
        assert!(xml.contains("<CtrlSum>251.05</CtrlSum>"), "{xml}");
        assert_eq!(xml.matches("<PmtInf>").count(), 2);
        assert!(xml.contains("<InstdAmt Ccy=\"SGD\">250.00</InstdAmt>"));
        assert!(xml.contains("<InstdAmt Ccy=\"EUR\">1.05</InstdAmt>"));
        assert!(xml.contains("Lion &amp; City &lt;Trading&gt; &quot;Pte&quot;"), "{xml}");
        assert!(xml.contains("<IBAN>GB82WEST12345698765432</IBAN>"));
        assert!(xml.contains("<IBAN>DE89370400440532013000</IBAN>"));
        assert!(xml.contains("<CreDtTm>2026-11-24T02:00:00Z</CreDtTm>"));
        assert!(xml.contains("<Dt>2026-11-24</Dt>"));
        assert!(xml.contains("<Ustrd>Salary November</Ustrd>"));
        assert_eq!(xml.matches("<RmtInf>").count(), 1, "no empty remittance");
    }

    #[test]
    fn refuses_empty_files_and_bad_ids() {
        let mut d = doc();
        d.transfers.clear();
        assert_eq!(d.to_xml(), Err(Iso20022Error::Empty));
        let mut d = doc();
        d.message_id = "X".repeat(36);
        assert!(matches!(d.to_xml(), Err(Iso20022Error::Invalid { field: "message_id", .. })));
        let mut d = doc();
        d.transfers[0].amount_minor = 0;
        assert!(matches!(d.to_xml(), Err(Iso20022Error::Invalid { field: "amount", .. })));
    }

    #[test]
    fn escape_drops_characters_xml_forbids() {
        assert_eq!(escape("a\u{1}b<"), "ab&lt;");
    }

    const PAIN002: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">
  <CstmrPmtStsRpt>
    <GrpHdr><MsgId>BANK-1</MsgId><CreDtTm>2026-11-24T10:00:00Z</CreDtTm></GrpHdr>
    <OrgnlGrpInfAndSts><OrgnlMsgId>OUT-1</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>OUT-1-1</OrgnlPmtInfId>
      <TxInfAndSts><OrgnlEndToEndId>P1</OrgnlEndToEndId><TxSts>ACSC</TxSts></TxInfAndSts>
      <TxInfAndSts>
        <OrgnlEndToEndId>P2</OrgnlEndToEndId><TxSts>RJCT</TxSts>
        <StsRsnInf><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>Account closed &amp; gone</AddtlInf></StsRsnInf>
      </TxInfAndSts>
      <TxInfAndSts><OrgnlEndToEndId>P3</OrgnlEndToEndId><TxSts>ACSP</TxSts></TxInfAndSts>
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>"#;

    #[test]
    fn parses_completed_rejected_and_pending_transactions() {
        let report = parse_pain002(PAIN002).expect("parses");
        assert_eq!(report.message_id, "BANK-1");
        assert_eq!(report.original_message_id.as_deref(), Some("OUT-1"));
        assert_eq!(report.transactions.len(), 3);
        assert_eq!(report.transactions[0], TxStatusReport { end_to_end_id: "P1".into(), status: TxStatus::Completed });
        assert_eq!(
            report.transactions[1].status,
            TxStatus::Rejected {
                reason_code: Some("AC04".into()),
                additional_info: Some("Account closed & gone".into())
            }
        );
        assert_eq!(report.transactions[2].status, TxStatus::Pending("ACSP".into()));
    }

    #[test]
    fn a_whole_file_rejection_has_a_group_status_and_reason() {
        let xml = r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>
            <GrpHdr><MsgId>BANK-9</MsgId></GrpHdr>
            <OrgnlGrpInfAndSts><OrgnlMsgId>OUT-7</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId><GrpSts>RJCT</GrpSts>
              <StsRsnInf><Rsn><Cd>FF01</Cd></Rsn><AddtlInf>Invalid file format</AddtlInf></StsRsnInf></OrgnlGrpInfAndSts>
            </CstmrPmtStsRpt></Document>"#;
        let report = parse_pain002(xml).expect("parses");
        assert!(report.transactions.is_empty());
        assert_eq!(report.original_message_id.as_deref(), Some("OUT-7"));
        assert_eq!(
            report.group_status,
            Some(TxStatus::Rejected {
                reason_code: Some("FF01".into()),
                additional_info: Some("Invalid file format".into())
            })
        );
        assert_eq!(parse_pain002(PAIN002).expect("parses").group_status, None);
    }

    #[test]
    fn malformed_reports_are_errors() {
        for (xml, needle) in [
            ("<Document><CstmrPmtStsRpt>", "not closed"),
            ("<Other/>", "no <Document>"),
            ("<Foo></Foo>", "root element"),
            ("<Document><CstmrCdtTrfInitn></CstmrCdtTrfInitn></Document>", "not a payment status report"),
            ("<Document><CstmrPmtStsRpt></CstmrPmtStsRpt></Document>", "MsgId"),
            (
                "<Document><CstmrPmtStsRpt><GrpHdr><MsgId>M</MsgId></GrpHdr><OrgnlPmtInfAndSts><TxInfAndSts><TxSts>ACSC</TxSts></TxInfAndSts></OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>",
                "OrgnlEndToEndId",
            ),
            (
                "<Document><CstmrPmtStsRpt><GrpHdr><MsgId>M</MsgId></GrpHdr><OrgnlPmtInfAndSts><TxInfAndSts><OrgnlEndToEndId>P</OrgnlEndToEndId><TxSts>??</TxSts></TxInfAndSts></OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>",
                "unknown TxSts",
            ),
            ("<Document><CstmrPmtStsRpt></Wrong></Document>", "well-formed"),
        ] {
            let err = parse_pain002(xml).expect_err(xml).to_string();
            assert!(err.contains(needle), "{xml}: {err}");
        }
    }

    #[test]
    fn reason_codes_map_to_normalised_failures_keeping_the_raw_detail() {
        assert_eq!(normalise_reason("AC04").0, "account_closed");
        assert_eq!(normalise_reason("AC01").0, "invalid_account");
        assert_eq!(normalise_reason("AM04").0, "insufficient_funds");
        assert_eq!(normalise_reason("ZZ99").0, "rejected_by_bank");
        assert_eq!(failure_reason(Some("AC04"), None).1, "account_closed: AC04 ClosedAccountNumber");
        assert_eq!(failure_reason(Some("XX01"), Some("odd")).1, "rejected_by_bank: XX01 (odd)");
        assert_eq!(failure_reason(None, None).1, "rejected_by_bank: RJCT");
    }
}
