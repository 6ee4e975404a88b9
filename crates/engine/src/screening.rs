//! The active sanctions list of this process (issue 7). Lists are loaded by the operator
//! (`outlay screening load`), stored as published in `screening_lists`, and parsed into one
//! immutable [`Screener`] kept here behind an `Arc`, swapped whole when a newer version appears.
//! The writer checks the stored version in every transaction that screens, so a node sees a list
//! another node (or the CLI) loaded from its next screening on: no timer, no stale node.

use std::fmt;
use std::sync::{Arc, RwLock};

use outlay_core::screening::{self, ListEntry, ListSource, Score, Screener};
use outlay_store::ScreeningFiles;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The screener in use and the list version it was built from.
pub struct ScreeningState {
    current: RwLock<Option<(i64, Arc<Screener>)>>,
    threshold: Score,
}

impl fmt::Debug for ScreeningState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScreeningState")
            .field("version", &self.current().map(|(v, _)| v))
            .field("threshold", &self.threshold)
            .finish()
    }
}

impl Default for ScreeningState {
    fn default() -> Self {
        Self::new(screening::DEFAULT_THRESHOLD)
    }
}

impl ScreeningState {
    pub fn new(threshold: Score) -> Self {
        Self { current: RwLock::new(None), threshold }
    }

    /// Hits score at least this (per mille).
    pub fn threshold(&self) -> Score {
        self.threshold
    }

    pub fn current(&self) -> Option<(i64, Arc<Screener>)> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    /// Install a screener unless a newer one is in place already.
    pub fn install(&self, version: i64, screener: Arc<Screener>) {
        if let Ok(mut current) = self.current.write()
            && current.as_ref().is_none_or(|(v, _)| *v < version)
        {
            *current = Some((version, screener));
        }
    }
}

/// What a load holds, for `outlay screening list` and the stored row.
pub struct ParsedLists {
    pub entries: Vec<ListEntry>,
    pub sha256: String,
    pub sources: Value,
}

/// Parse the published files of one load. OFAC's `alt.csv` and `add.csv` need its `sdn.csv`;
/// at least one list is required. Errors name the file and line.
pub fn parse_files(files: &ScreeningFiles) -> Result<ParsedLists, String> {
    let mut entries = Vec::new();
    let mut hasher = Sha256::new();
    for file in [&files.ofac_sdn, &files.ofac_alt, &files.ofac_add, &files.un_xml] {
        let bytes = file.as_deref().unwrap_or_default();
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    }
    match (&files.ofac_sdn, &files.ofac_alt, &files.ofac_add) {
        (Some(sdn), alt, add) => {
            entries.extend(screening::ofac::parse(sdn, alt.as_deref(), add.as_deref()).map_err(|e| e.to_string())?);
        }
        (None, None, None) => {}
        (None, _, _) => return Err("the OFAC alt.csv and add.csv files need their sdn.csv (--ofac)".to_owned()),
    }
    let ofac = entries.len();
    if let Some(xml) = &files.un_xml {
        let text = std::str::from_utf8(xml).map_err(|e| format!("consolidated list: not UTF-8: {e}"))?;
        entries.extend(screening::un::parse(text).map_err(|e| e.to_string())?);
    }
    if files.ofac_sdn.is_none() && files.un_xml.is_none() {
        return Err("give at least one list: --ofac sdn.csv and/or --un consolidated.xml".to_owned());
    }
    let un = entries.len() - ofac;
    let size = |f: &Option<Vec<u8>>| f.as_ref().map(Vec::len);
    let sources = json!({
        "ofac_sdn": files.ofac_sdn.as_ref().map(|_| json!({
            "entries": ofac,
            "sdn_bytes": size(&files.ofac_sdn),
            "alt_bytes": size(&files.ofac_alt),
            "add_bytes": size(&files.ofac_add),
        })),
        "un_consolidated": files.un_xml.as_ref().map(|_| json!({"entries": un, "xml_bytes": size(&files.un_xml)})),
    });
    Ok(ParsedLists { entries, sha256: hex::encode(hasher.finalize()), sources })
}

/// The stored name of a list source (`screening_hits.source`).
pub fn source_code(source: ListSource) -> &'static str {
    match source {
        ListSource::OfacSdn => "ofac_sdn",
        ListSource::UnConsolidated => "un_consolidated",
    }
}

/// A reviewer's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewDecision {
    Clear,
    Reject,
}

impl ReviewDecision {
    pub fn status(self) -> &'static str {
        match self {
            ReviewDecision::Clear => "cleared",
            ReviewDecision::Reject => "rejected",
        }
    }
}
