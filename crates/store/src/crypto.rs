//! Encryption at rest of account and identity numbers (beneficiary bank details and their
//! identity fields, payouts' beneficiary snapshots). The store encrypts a value when it writes
//! a row and decrypts it when it reads one, so nothing above the store ever sees ciphertext and
//! nothing in the database file is in clear.
//!
//! A value is stored as `enc:v1:<key_id>:<base64(nonce ‖ AES-256-GCM ciphertext ‖ tag)>`, with a
//! random 96-bit nonce per value. New values use the active key; every key of the ring stays
//! readable, so rotating is: add a key, make it active, re-encrypt (`outlay keys rotate`), and
//! remove the old key once nothing uses it.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use outlay_core::audit::is_sensitive_field;
use serde_json::Value;

use crate::{BeneficiaryRow, Page, PayoutRow, StoreError, StoreResult};

const PREFIX: &str = "enc:v1:";

/// The keys a store encrypts with (the active one) and decrypts with (any).
#[derive(Clone, Default)]
pub struct KeyRing {
    keys: BTreeMap<String, Aes256Gcm>,
    active: Option<String>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key ids only: never the keys.
        f.debug_struct("KeyRing")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .finish()
    }
}

impl KeyRing {
    /// No keys: values are stored as given (and encrypted ones cannot be read).
    pub fn none() -> Self {
        Self::default()
    }

    /// Keys as `(id, base64 of 32 bytes)`; `active` must be one of them.
    pub fn new<'a>(keys: impl IntoIterator<Item = (&'a str, &'a str)>, active: &str) -> Result<Self, String> {
        let mut ring = KeyRing::default();
        for (id, b64) in keys {
            if id.is_empty() || id.contains(':') || id.len() > 32 {
                return Err(format!("encryption key id {id:?} must be 1 to 32 characters without ':'"));
            }
            let bytes = STANDARD.decode(b64.trim()).map_err(|_| format!("encryption key {id} is not valid base64"))?;
            let bytes: [u8; 32] = bytes
                .try_into()
                .map_err(|_| format!("encryption key {id} must be 32 bytes (base64 of 32 random bytes)"))?;
            ring.keys.insert(id.to_owned(), Aes256Gcm::new(&Key::<Aes256Gcm>::from(bytes)));
        }
        if !ring.keys.contains_key(active) {
            return Err(format!("the active encryption key {active:?} is not among the configured keys"));
        }
        ring.active = Some(active.to_owned());
        Ok(ring)
    }

    /// 32 random bytes, base64: a new key.
    pub fn generate_key() -> String {
        let bytes: [u8; 32] = rand::random();
        STANDARD.encode(bytes)
    }

    pub fn active(&self) -> Option<&str> {
        self.active.as_deref()
    }

    pub fn is_encrypted(value: &str) -> bool {
        value.starts_with(PREFIX)
    }

    /// Encrypt with the active key (as given when there is none, or when already encrypted
    /// with the active key).
    pub fn encrypt(&self, plain: &str) -> StoreResult<String> {
        let Some(active) = &self.active else { return Ok(plain.to_owned()) };
        if let Some(rest) = plain.strip_prefix(PREFIX) {
            if rest.split(':').next() == Some(active.as_str()) {
                return Ok(plain.to_owned());
            }
            // Encrypted with an older key: re-encrypt (rotation).
            return self.encrypt(&self.decrypt(plain)?);
        }
        self.seal_raw(active, plain.as_bytes())
    }

    fn seal_raw(&self, active: &str, plain: &[u8]) -> StoreResult<String> {
        let cipher = self.keys.get(active).ok_or_else(|| StoreError::Config("active key missing".into()))?;
        let nonce_bytes: [u8; 12] = rand::random();
        let sealed = cipher
            .encrypt(&Nonce::from(nonce_bytes), plain)
            .map_err(|_| StoreError::Database("encryption failed".into()))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{active}:{}", STANDARD.encode(out)))
    }

    /// Decrypt a stored value (a value that was never encrypted is returned as it is).
    pub fn decrypt(&self, stored: &str) -> StoreResult<String> {
        let plain = self.open_raw(stored)?;
        String::from_utf8(plain).map_err(|_| StoreError::corrupt("decrypted value is not UTF-8"))
    }

    /// A stored document (uploaded file): its bytes sealed whole, as the bytes of
    /// `enc:v1:<key_id>:<base64>` (as given when there is no key).
    pub fn encrypt_bytes(&self, plain: &[u8]) -> StoreResult<Vec<u8>> {
        let Some(active) = &self.active else { return Ok(plain.to_vec()) };
        Ok(self.seal_raw(active, plain)?.into_bytes())
    }

    /// Rotation of a stored document: sealed with the active key (unchanged when it already is;
    /// a document stored in clear before documents were sealed is sealed now).
    pub fn reseal_bytes(&self, stored: &[u8]) -> StoreResult<Vec<u8>> {
        let Some(active) = &self.active else { return Ok(stored.to_vec()) };
        match std::str::from_utf8(stored) {
            Ok(text) if Self::is_encrypted(text) => {
                if text[PREFIX.len()..].split(':').next() == Some(active.as_str()) {
                    return Ok(stored.to_vec());
                }
                Ok(self.seal_raw(active, &self.open_raw(text)?)?.into_bytes())
            }
            _ => self.encrypt_bytes(stored),
        }
    }

    /// A stored document's bytes (returned as they are when they were never encrypted).
    pub fn decrypt_bytes(&self, stored: &[u8]) -> StoreResult<Vec<u8>> {
        match std::str::from_utf8(stored) {
            Ok(text) if Self::is_encrypted(text) => self.open_raw(text),
            _ => Ok(stored.to_vec()),
        }
    }

    fn open_raw(&self, stored: &str) -> StoreResult<Vec<u8>> {
        let Some(rest) = stored.strip_prefix(PREFIX) else { return Ok(stored.as_bytes().to_vec()) };
        let (id, b64) = rest.split_once(':').ok_or_else(|| StoreError::corrupt("malformed encrypted value"))?;
        let cipher = self.keys.get(id).ok_or_else(|| {
            StoreError::Config(format!("a value is encrypted with key {id:?}, which is not configured"))
        })?;
        let bytes = STANDARD.decode(b64).map_err(|_| StoreError::corrupt("malformed encrypted value"))?;
        if bytes.len() < 12 + 16 {
            return Err(StoreError::corrupt("malformed encrypted value"));
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| StoreError::corrupt("malformed encrypted value"))?;
        cipher
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| StoreError::corrupt(format!("a value encrypted with key {id:?} does not decrypt")))
    }

    /// Encrypt every account or identity number in a JSON document, at any depth.
    pub fn seal_json(&self, value: &Value) -> StoreResult<Value> {
        let mut out = value.clone();
        self.walk(&mut out, true)?;
        Ok(out)
    }

    /// Decrypt every encrypted value in a JSON document.
    pub fn open_json(&self, value: &Value) -> StoreResult<Value> {
        let mut out = value.clone();
        self.walk(&mut out, false)?;
        Ok(out)
    }

    fn opt(&self, value: Option<&Value>, seal: bool) -> StoreResult<Option<Value>> {
        value.map(|v| if seal { self.seal_json(v) } else { self.open_json(v) }).transpose()
    }

    /// A beneficiary as it is stored: bank details and additional info sealed.
    pub fn seal_beneficiary(&self, b: &BeneficiaryRow) -> StoreResult<BeneficiaryRow> {
        Ok(BeneficiaryRow {
            bank_details: self.seal_json(&b.bank_details)?,
            additional_info: self.opt(b.additional_info.as_ref(), true)?,
            ..b.clone()
        })
    }

    pub fn open_beneficiary(&self, b: BeneficiaryRow) -> StoreResult<BeneficiaryRow> {
        Ok(BeneficiaryRow {
            bank_details: self.open_json(&b.bank_details)?,
            additional_info: self.opt(b.additional_info.as_ref(), false)?,
            ..b
        })
    }

    /// A payout as it is stored: its beneficiary snapshot sealed.
    pub fn seal_payout(&self, p: &PayoutRow) -> StoreResult<PayoutRow> {
        Ok(PayoutRow {
            beneficiary: self.seal_json(&p.beneficiary)?,
            payer: self.opt(p.payer.as_ref(), true)?,
            ..p.clone()
        })
    }

    pub fn open_payout(&self, p: PayoutRow) -> StoreResult<PayoutRow> {
        Ok(PayoutRow { beneficiary: self.open_json(&p.beneficiary)?, payer: self.opt(p.payer.as_ref(), false)?, ..p })
    }

    /// An account's designated (withdrawal) bank account as stored: its number sealed.
    pub fn seal_bank_json(&self, bank: &crate::BankAccount) -> StoreResult<String> {
        Ok(self.seal_json(&crate::sqlite::bank_to_json(bank))?.to_string())
    }

    pub fn open_account(&self, mut a: crate::AccountRow) -> StoreResult<crate::AccountRow> {
        if let Some(bank) = a.bank_account.as_mut() {
            bank.account_number = self.decrypt(&bank.account_number)?;
        }
        Ok(a)
    }

    /// An optional plain-text column (not JSON) encrypted as a whole.
    pub fn encrypt_opt(&self, plain: Option<&str>) -> StoreResult<Option<String>> {
        plain.map(|p| self.encrypt(p)).transpose()
    }

    pub fn decrypt_opt(&self, stored: Option<&str>) -> StoreResult<Option<String>> {
        stored.map(|s| self.decrypt(s)).transpose()
    }

    /// A deposit as it is stored: sender and receiver account numbers sealed.
    pub fn seal_deposit(&self, d: &crate::DepositRow) -> StoreResult<crate::DepositRow> {
        Ok(crate::DepositRow {
            receiver_account_number: self.encrypt_opt(d.receiver_account_number.as_deref())?,
            sender_account_number: self.encrypt_opt(d.sender_account_number.as_deref())?,
            ..d.clone()
        })
    }

    pub fn open_deposit(&self, d: crate::DepositRow) -> StoreResult<crate::DepositRow> {
        Ok(crate::DepositRow {
            receiver_account_number: self.decrypt_opt(d.receiver_account_number.as_deref())?,
            sender_account_number: self.decrypt_opt(d.sender_account_number.as_deref())?,
            ..d
        })
    }

    /// A batch row as it is stored: its payload (the raw row with its bank details, as a
    /// create-payout JSON body) sealed whole.
    pub fn seal_batch_item(&self, i: &crate::BatchItemRow) -> StoreResult<crate::BatchItemRow> {
        Ok(crate::BatchItemRow { payload: self.encrypt_opt(i.payload.as_deref())?, ..i.clone() })
    }

    pub fn open_batch_item(&self, i: crate::BatchItemRow) -> StoreResult<crate::BatchItemRow> {
        Ok(crate::BatchItemRow { payload: self.decrypt_opt(i.payload.as_deref())?, ..i })
    }

    pub fn open_page<T>(&self, page: Page<T>, open: fn(&Self, T) -> StoreResult<T>) -> StoreResult<Page<T>> {
        Ok(Page {
            total_items: page.total_items,
            items: page.items.into_iter().map(|t| open(self, t)).collect::<StoreResult<_>>()?,
        })
    }

    fn walk(&self, value: &mut Value, seal: bool) -> StoreResult<()> {
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    match v {
                        Value::String(s) if seal && is_sensitive_field(&key.to_ascii_lowercase()) => {
                            *s = self.encrypt(s)?;
                        }
                        Value::String(s) if !seal && Self::is_encrypted(s) => *s = self.decrypt(s)?,
                        other => self.walk(other, seal)?,
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.walk(item, seal)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ring(active: &str, k1: &str, k2: &str) -> KeyRing {
        KeyRing::new([("k1", k1), ("k2", k2)], active).expect("ring")
    }

    #[test]
    fn round_trips_with_random_nonces_and_rotates() {
        let (a, b) = (KeyRing::generate_key(), KeyRing::generate_key());
        let old = ring("k1", &a, &b);
        let sealed = old
            .seal_json(&json!({"bank_details": {"account_number": "0123456789", "bank_name": "DBS"}}))
            .expect("seal");
        let text = sealed.to_string();
        assert!(!text.contains("0123456789") && text.contains("enc:v1:k1:") && text.contains("DBS"), "{text}");
        let again = old.seal_json(&json!({"account_number": "0123456789"})).expect("seal");
        assert_ne!(again["account_number"], sealed["bank_details"]["account_number"], "nonces must differ");
        assert_eq!(old.open_json(&sealed).expect("open")["bank_details"]["account_number"], "0123456789");

        let new = ring("k2", &a, &b);
        let rotated = new.seal_json(&sealed).expect("rotate");
        assert!(rotated.to_string().contains("enc:v1:k2:"));
        assert_eq!(new.open_json(&rotated).expect("open")["bank_details"]["account_number"], "0123456789");
        let only_new = KeyRing::new([("k2", b.as_str())], "k2").expect("ring");
        assert_eq!(only_new.open_json(&rotated).expect("open")["bank_details"]["account_number"], "0123456789");
        assert!(only_new.open_json(&sealed).is_err(), "a removed key cannot read");
    }

    #[test]
    fn rejects_bad_keys_and_tampered_values() {
        assert!(KeyRing::new([("k1", "c2hvcnQ=")], "k1").is_err());
        assert!(KeyRing::new([("k1", KeyRing::generate_key().as_str())], "k9").is_err());
        let r = KeyRing::new([("k1", KeyRing::generate_key().as_str())], "k1").expect("ring");
        let sealed = r.encrypt("GB82WEST12345698765432").expect("enc");
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(r.decrypt(&tampered).is_err());
        assert_eq!(KeyRing::none().encrypt("x").expect("none"), "x");
    }

    #[test]
    fn documents_are_sealed_whole_and_rotate() {
        let (a, b) = (KeyRing::generate_key(), KeyRing::generate_key());
        let old = ring("k1", &a, &b);
        let doc = b"%PDF-1.4 passport P1234567X \xff\x00".to_vec();
        let sealed = old.encrypt_bytes(&doc).expect("seal");
        assert!(sealed.starts_with(b"enc:v1:k1:") && !sealed.windows(8).any(|w| w == b"P1234567"));
        assert_eq!(old.decrypt_bytes(&sealed).expect("open"), doc);
        assert_eq!(old.reseal_bytes(&sealed).expect("same key"), sealed, "already under the active key");
        assert_eq!(old.decrypt_bytes(&doc).expect("clear"), doc, "a clear document reads as it is");
        let from_clear = old.reseal_bytes(&doc).expect("seal clear");
        assert_eq!(old.decrypt_bytes(&from_clear).expect("open"), doc);
        let new = ring("k2", &a, &b);
        let rotated = new.reseal_bytes(&sealed).expect("rotate");
        assert!(rotated.starts_with(b"enc:v1:k2:"));
        assert_eq!(new.decrypt_bytes(&rotated).expect("open"), doc);
    }
}
