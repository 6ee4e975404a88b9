//! One jail per account: `<root>/<account_id>/` with the Nomupay layout. Every path a client
//! sends is resolved here: `..` is normalised against the jail (climbing above its root is
//! refused, not clamped), symlinks are refused, and only `Request/Payments` and
//! `Request/Onboarding` can be written.

use std::path::{Path, PathBuf};

use outlay_core::AccountId;

/// The directories of every jail, created on first login.
pub const DIRECTORIES: &[&str] = &[
    "Request",
    "Request/Payments",
    "Request/Onboarding",
    "Response",
    "Response/Payments",
    "Response/Onboarding",
    "Reports",
];

/// Longest file name a client may write.
pub const MAX_NAME: usize = 200;

/// A file the client may drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Payments,
    Onboarding,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Payments => "payments",
            Kind::Onboarding => "onboarding",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "payments" => Some(Kind::Payments),
            "onboarding" => Some(Kind::Onboarding),
            _ => None,
        }
    }

    /// `Payments` or `Onboarding`: the folder under Request/ and Response/.
    pub fn folder(self) -> &'static str {
        match self {
            Kind::Payments => "Payments",
            Kind::Onboarding => "Onboarding",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JailError {
    #[error("path escapes the home directory")]
    Escape,
    #[error("invalid path")]
    Invalid,
    #[error("symbolic links are not allowed")]
    Symlink,
    #[error("read-only: files can be written only in Request/Payments and Request/Onboarding")]
    ReadOnly,
    #[error("invalid file name: use letters, digits, '.', '-' and '_' (at most 200), not starting with '.'")]
    BadName,
}

/// A path inside a jail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Normalised, absolute within the jail: `/`, `/Request/Payments/a.csv`.
    pub virtual_path: String,
    pub real: PathBuf,
    /// The normalised components.
    pub parts: Vec<String>,
}

impl Resolved {
    /// Where a client may write this path: the kind of its folder and the file name.
    pub fn writable(&self) -> Result<(Kind, &str), JailError> {
        let kind = match self.parts.as_slice() {
            [r, k, _] if r == "Request" && k == "Payments" => Kind::Payments,
            [r, k, _] if r == "Request" && k == "Onboarding" => Kind::Onboarding,
            _ => return Err(JailError::ReadOnly),
        };
        let name = self.parts[2].as_str();
        check_name(name)?;
        Ok((kind, name))
    }
}

/// File names a client may create: no hidden files, no control characters, nothing a shell or
/// another OS would read differently.
pub fn check_name(name: &str) -> Result<(), JailError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok { Ok(()) } else { Err(JailError::BadName) }
}

#[derive(Clone, Debug)]
pub struct Jail {
    root: PathBuf,
}

impl Jail {
    /// The jail of `account` under `root`, created with its directories if missing.
    pub fn open(root: &Path, account: AccountId) -> std::io::Result<Self> {
        let jail = Jail { root: root.join(account.to_string()) };
        for dir in DIRECTORIES {
            std::fs::create_dir_all(jail.root.join(dir))?;
        }
        Ok(jail)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolve a client path (absolute, or relative to the jail root which is the client's home).
    pub fn resolve(&self, path: &str) -> Result<Resolved, JailError> {
        if path.contains('\0') || path.contains('\\') {
            return Err(JailError::Invalid);
        }
        let mut parts: Vec<String> = Vec::new();
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(JailError::Escape);
                    }
                }
                p => parts.push(p.to_owned()),
            }
        }
        let mut real = self.root.clone();
        for p in &parts {
            real.push(p);
            // A symlink anywhere on the way is refused (the server never makes one; a client cannot).
            if std::fs::symlink_metadata(&real).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(JailError::Symlink);
            }
        }
        Ok(Resolved { virtual_path: format!("/{}", parts.join("/")), real, parts })
    }

    /// Where the server writes a response file (not reachable for writing by the client).
    pub fn response_path(&self, kind: Kind, name: &str) -> PathBuf {
        self.root.join("Response").join(kind.folder()).join(name)
    }

    pub fn request_path(&self, kind: Kind, name: &str) -> PathBuf {
        self.root.join("Request").join(kind.folder()).join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jail() -> (tempfile::TempDir, Jail) {
        let dir = tempfile::tempdir().expect("tempdir");
        let jail = Jail::open(dir.path(), AccountId(uuid::Uuid::nil())).expect("jail");
        (dir, jail)
    }

    #[test]
    fn paths_normalise_inside_the_jail() {
        let (_d, j) = jail();
        assert_eq!(j.resolve("").expect("ok").virtual_path, "/");
        assert_eq!(j.resolve(".").expect("ok").virtual_path, "/");
        assert_eq!(j.resolve("/Request/./Payments//a.csv").expect("ok").virtual_path, "/Request/Payments/a.csv");
        assert_eq!(
            j.resolve("Request/Payments/../Onboarding/b.csv").expect("ok").virtual_path,
            "/Request/Onboarding/b.csv"
        );
        assert_eq!(j.resolve("/Request/Payments/a.csv").expect("ok").real, j.root().join("Request/Payments/a.csv"));
    }

    #[test]
    fn climbing_out_is_refused() {
        let (_d, j) = jail();
        for p in ["..", "/..", "../other", "Request/../../x", "/Request/Payments/../../../etc/passwd", "a\0b", "a\\b"] {
            assert!(j.resolve(p).is_err(), "{p}");
        }
    }

    #[test]
    fn only_request_folders_are_writable() {
        let (_d, j) = jail();
        let w = |p: &str| j.resolve(p).expect("resolves").writable().map(|(k, n)| (k, n.to_owned()));
        assert_eq!(w("/Request/Payments/pay_1.csv"), Ok((Kind::Payments, "pay_1.csv".to_owned())));
        assert_eq!(w("/Request/Onboarding/o.csv.part"), Ok((Kind::Onboarding, "o.csv.part".to_owned())));
        assert_eq!(w("/Response/Payments/x.csv"), Err(JailError::ReadOnly));
        assert_eq!(w("/Reports/x.csv"), Err(JailError::ReadOnly));
        assert_eq!(w("/x.csv"), Err(JailError::ReadOnly));
        assert_eq!(w("/Request/x.csv"), Err(JailError::ReadOnly));
        assert_eq!(w("/Request/Payments/sub/x.csv"), Err(JailError::ReadOnly));
        assert_eq!(w("/Request/Payments/.hidden"), Err(JailError::BadName));
        assert_eq!(w("/Request/Payments/a b.csv"), Err(JailError::BadName));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_refused() {
        let (_d, j) = jail();
        std::os::unix::fs::symlink("/etc", j.root().join("Reports/etc")).expect("symlink");
        assert_eq!(j.resolve("/Reports/etc/passwd"), Err(JailError::Symlink));
    }
}
