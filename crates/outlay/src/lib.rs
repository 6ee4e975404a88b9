//! The `outlay` binary's library half: configuration, the server's start-up and shutdown, and
//! the operator commands. Kept as a library so tests start the real server in-process.

pub mod audit_cli;
pub mod cli;
pub mod compliance_cli;
pub mod config;
pub mod keys;
pub mod rates;
pub mod server;
pub mod sftp_keys;
