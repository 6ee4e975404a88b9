//! End-to-end tests: the real server on a random port, real HTTP, the real CLI binary, each test
//! on SQLite and on PostgreSQL (`OUTLAY_TEST_DATABASE_URL`, default the local server).

mod helpers;

mod audit;
mod bad_input;
mod batch_quote;
mod batches;
mod compliance;
mod foundation;
mod fx;
mod jobs;
mod lifecycle;
mod multinode;
mod overload;
mod payout_approval;
mod payouts;
mod postgres_coalesced_writes;
mod rails;
mod reports;
mod roles;
mod sftp;
mod transfers;
mod wallets;
mod webhooks;
