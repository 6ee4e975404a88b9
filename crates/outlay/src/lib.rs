//! The `outlay` binary's library half: configuration, the server's start-up and shutdown, and
//! the operator commands. Kept as a library so tests start the real server in-process.

pub mod cli;
pub mod config;
pub mod rates;
pub mod server;
