//! SFTP public keys as a client registers them: one line in OpenSSH format
//! (`ssh-ed25519 AAAAC3Nza... comment`). Pure: parsing and the SHA-256 fingerprint that
//! `ssh-keygen -l` prints, which is how the SFTP server finds the key at login.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

/// Key types the SFTP server accepts.
pub const ALGORITHMS: &[&str] =
    &["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"];

/// A parsed public key: the canonical line (type and base64 blob, comment kept) and its fingerprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: String,
    /// `<type> <base64>[ <comment>]`, whitespace normalised.
    pub openssh: String,
    /// `SHA256:<unpadded base64 of the SHA-256 of the key blob>`.
    pub fingerprint: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("is empty; give one public key line such as `ssh-ed25519 AAAA... comment`")]
    Empty,
    #[error("holds a private key; give the public key (the .pub file)")]
    PrivateKey,
    #[error("key type {0} is not accepted (use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa)")]
    Algorithm(String),
    #[error("is not a public key in OpenSSH format (`<type> <base64> [comment]`)")]
    Format,
}

/// SHA-256 fingerprint of a key blob (the SSH wire encoding of the public key).
pub fn fingerprint(blob: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(blob)))
}

/// Parse one OpenSSH public key line; the type named in the line must match the one inside the blob.
pub fn parse_public_key(text: &str) -> Result<PublicKey, KeyError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(KeyError::Empty);
    }
    if text.contains("PRIVATE KEY") {
        return Err(KeyError::PrivateKey);
    }
    if text.lines().count() > 1 {
        return Err(KeyError::Format);
    }
    let mut parts = text.split_whitespace();
    let algorithm = parts.next().ok_or(KeyError::Format)?;
    if !ALGORITHMS.contains(&algorithm) {
        return Err(KeyError::Algorithm(algorithm.chars().take(40).collect()));
    }
    let b64 = parts.next().ok_or(KeyError::Format)?;
    let comment: Vec<&str> = parts.collect();
    let blob = STANDARD.decode(b64).map_err(|_| KeyError::Format)?;
    // The blob starts with the key type as an SSH string: u32 length, then the name.
    let len = blob.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok_or(KeyError::Format)?;
    let len = usize::try_from(len).map_err(|_| KeyError::Format)?;
    let inner = blob.get(4..4 + len).ok_or(KeyError::Format)?;
    if inner != algorithm.as_bytes() || blob.len() <= 4 + len {
        return Err(KeyError::Format);
    }
    let mut openssh = format!("{algorithm} {b64}");
    if !comment.is_empty() {
        openssh.push(' ');
        openssh.push_str(&comment.join(" "));
    }
    Ok(PublicKey { algorithm: algorithm.to_owned(), openssh, fingerprint: fingerprint(&blob) })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Generated with `ssh-keygen -t ed25519`; `ssh-keygen -lf` prints the fingerprint below.
    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJV1zhPzWXFqFJzdFvQCBAt/XnpGD0wJE/mzqLcGW6+0 user@host";

    #[test]
    fn parses_and_fingerprints_like_ssh_keygen() {
        let k = parse_public_key(&format!("  {KEY}\n")).expect("valid");
        assert_eq!(k.algorithm, "ssh-ed25519");
        assert_eq!(k.openssh, KEY);
        assert_eq!(k.fingerprint, "SHA256:s3YXOXO42/Pu04M5rzIsjtgj+PaFHYmWgGcK+9irHLw");
    }

    #[test]
    fn refuses_what_is_not_a_public_key() {
        assert_eq!(parse_public_key(""), Err(KeyError::Empty));
        assert_eq!(parse_public_key("-----BEGIN OPENSSH PRIVATE KEY-----\nabc"), Err(KeyError::PrivateKey));
        assert!(matches!(parse_public_key("ssh-dss AAAA"), Err(KeyError::Algorithm(_))));
        assert_eq!(parse_public_key("ssh-ed25519 not-base64!"), Err(KeyError::Format));
        // The blob names another type than the line.
        let lie = KEY.replace("ssh-ed25519", "ssh-rsa");
        assert_eq!(parse_public_key(&lie), Err(KeyError::Format));
        assert_eq!(parse_public_key("ssh-ed25519"), Err(KeyError::Format));
    }
}
