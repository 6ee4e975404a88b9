//! Generated pain.001 files validate against the official ISO 20022 XSD (with `xmllint`), and the
//! check does catch an invalid document.

use std::path::{Path, PathBuf};
use std::process::Command;

use outlay_core::Currency;
use outlay_core::iso20022::{CreditTransfer, CreditorAccount, Debtor, Pain001};

fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/iso20022/pain.001.001.09.xsd")
}

/// `Ok` when `xml` is schema-valid, else xmllint's complaint.
fn validate(xml: &str, name: &str) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("outlay-xsd-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("pain001.xml");
    std::fs::write(&file, xml).expect("write");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema())
        .arg(&file)
        .output()
        .expect("xmllint runs (install libxml2-utils)");
    let _ = std::fs::remove_dir_all(&dir);
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

fn document() -> Pain001 {
    let date = time::macros::date!(2026 - 11 - 24);
    let transfer = |e2e: &str, ccy: &str, minor: i64, account: CreditorAccount, name: &str| CreditTransfer {
        end_to_end_id: e2e.into(),
        currency: Currency::parse(ccy).expect("currency"),
        amount_minor: minor,
        execution_date: date,
        creditor_name: name.into(),
        creditor_account: account,
        creditor_bic: Some("DBSSSGSG".into()),
        remittance: "Salary November <&>".into(),
    };
    Pain001 {
        message_id: "OUT20261124020000-1A2B3C".into(),
        created_at: time::macros::datetime!(2026-11-24 02:00:00 UTC),
        initiating_party: "Outlay".into(),
        debtor: Debtor { name: "Outlay FBO".into(), iban: "DE89370400440532013000".into(), bic: "COBADEFFXXX".into() },
        transfers: vec![
            transfer("P261124-AAAA", "SGD", 25_000, CreditorAccount::Other("0123456789".into()), "Lion & City"),
            transfer("P261124-BBBB", "SGD", 1, CreditorAccount::Other("0123456789".into()), "O'Brien \"Ltd\""),
            transfer("P261124-CCCC", "JPY", 1_000, CreditorAccount::Other("1234567".into()), "山田太郎"),
            transfer("P261124-DDDD", "EUR", 9_999, CreditorAccount::Iban("GB82 WEST 1234 5698 7654 32".into()), "Jane"),
        ],
    }
}

#[test]
fn generated_pain001_is_valid_against_the_iso20022_xsd() {
    let xml = document().to_xml().expect("builds");
    validate(&xml, "valid").unwrap_or_else(|e| panic!("schema-invalid pain.001:\n{e}\n{xml}"));
}

#[test]
fn the_xsd_check_rejects_an_invalid_document() {
    let xml = document().to_xml().expect("builds");
    // A BIC that is not one, and a missing mandatory element: both must be caught.
    let bad_bic = xml.replace("<BICFI>DBSSSGSG</BICFI>", "<BICFI>not a bic</BICFI>");
    assert!(validate(&bad_bic, "bad-bic").is_err(), "an invalid BIC passed the schema check");
    let no_msg_id = xml.replacen("<MsgId>OUT20261124020000-1A2B3C</MsgId>", "", 1);
    assert!(validate(&no_msg_id, "no-msgid").is_err(), "a missing MsgId passed the schema check");
}
