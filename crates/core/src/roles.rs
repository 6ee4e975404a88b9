//! Credential roles and the one policy that says which requests each role may make.
//!
//! The policy is decided from the request's method and path, in one place, so a new route is
//! covered the day it is added (a non-read request needs `Move` unless it is listed here) and a
//! reviewer of the policy reads one table rather than every handler.

use std::fmt;
use std::str::FromStr;

/// What a credential is for. Existing credentials and the first credential of an account are
/// `Admin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything.
    Admin,
    /// Creates and changes money-moving objects (payouts, batches, withdrawals, conversions,
    /// transfers, beneficiaries); reads.
    Payments,
    /// Approves batches and payouts held for approval (maker-checker); reads.
    Approver,
    /// Clears or rejects compliance reviews; reads. Cannot move money.
    Reviewer,
    /// Reads only.
    ReadOnly,
}

/// What a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    Read,
    /// Create or change anything that moves money or its destinations.
    Move,
    /// Approve (or decline) what waits for a second pair of eyes.
    Approve,
    /// Decide compliance reviews.
    Review,
    /// Credentials, webhook endpoints, account policies.
    Manage,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Admin, Role::Payments, Role::Approver, Role::Reviewer, Role::ReadOnly];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Payments => "payments",
            Role::Approver => "approver",
            Role::Reviewer => "reviewer",
            Role::ReadOnly => "read_only",
        }
    }

    pub fn allows(self, permission: Permission) -> bool {
        match self {
            Role::Admin => true,
            Role::Payments => matches!(permission, Permission::Read | Permission::Move),
            Role::Approver => matches!(permission, Permission::Read | Permission::Approve),
            Role::Reviewer => matches!(permission, Permission::Read | Permission::Review),
            Role::ReadOnly => permission == Permission::Read,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("role must be one of admin, payments, approver, reviewer, read_only")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or(UnknownRole)
    }
}

/// Paths (under `/api/v1/`) whose writes configure the account rather than move money.
const MANAGE_PREFIXES: &[&str] = &["credentials", "webhook_endpoints", "account_rules", "approval_policy", "sftp_keys"];

/// Paths (under `/api/v1/`) whose writes only ask for a read of one's own data.
const READ_LIKE_WRITES: &[&str] = &["reports"];

/// The permission a request needs, from its method and path.
pub fn required_permission(is_read: bool, path: &str) -> Permission {
    if is_read {
        return Permission::Read;
    }
    let rest = path.strip_prefix("/api/v1/").unwrap_or(path);
    if rest.starts_with("compliance/") {
        return Permission::Review;
    }
    let last = rest.rsplit('/').next().unwrap_or(rest);
    if matches!(last, "approve" | "reject_approval") {
        return Permission::Approve;
    }
    let first = rest.split('/').next().unwrap_or(rest);
    if READ_LIKE_WRITES.contains(&first) {
        return Permission::Read;
    }
    if MANAGE_PREFIXES.contains(&first)
        || rest.starts_with("accounts/approval_policy")
        || rest.starts_with("accounts/payout_model")
    {
        return Permission::Manage;
    }
    Permission::Move
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_unknown_is_refused() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!("root".parse::<Role>(), Err(UnknownRole));
        assert_eq!("Admin".parse::<Role>(), Err(UnknownRole));
    }

    #[test]
    fn policy_by_path() {
        assert_eq!(required_permission(true, "/api/v1/payouts"), Permission::Read);
        assert_eq!(required_permission(false, "/api/v1/payouts/create"), Permission::Move);
        assert_eq!(required_permission(false, "/api/v1/compliance/reviews/x/clear"), Permission::Review);
        assert_eq!(required_permission(false, "/api/v1/payout_batches/x/approve"), Permission::Approve);
        assert_eq!(required_permission(false, "/api/v1/credentials"), Permission::Manage);
        assert_eq!(required_permission(false, "/api/v1/webhook_endpoints/x/rotate_secret"), Permission::Manage);
        assert_eq!(required_permission(false, "/api/v1/accounts/approval_policy"), Permission::Manage);
        assert_eq!(required_permission(false, "/api/v1/accounts/payout_model"), Permission::Manage);
        // Asking for a report of one's own data is a read.
        assert_eq!(required_permission(false, "/api/v1/reports"), Permission::Read);
        // An unknown write is a money move, never silently a read.
        assert_eq!(required_permission(false, "/api/v1/something_new"), Permission::Move);
    }

    #[test]
    fn only_payments_and_admin_move_money() {
        let movers: Vec<Role> = Role::ALL.into_iter().filter(|r| r.allows(Permission::Move)).collect();
        assert_eq!(movers, vec![Role::Admin, Role::Payments]);
        assert!(!Role::Reviewer.allows(Permission::Move));
        assert!(!Role::Payments.allows(Permission::Review));
        assert!(!Role::Payments.allows(Permission::Approve));
        assert!(Role::ReadOnly.allows(Permission::Read));
        assert!(!Role::ReadOnly.allows(Permission::Manage));
    }
}
