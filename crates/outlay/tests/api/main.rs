//! End-to-end tests: the real server on a random port, real HTTP, the real CLI binary, each test
//! on SQLite and on PostgreSQL (`OUTLAY_TEST_DATABASE_URL`, default the local server).

mod helpers;

mod bad_input;
mod foundation;
mod fx;
mod lifecycle;
mod multinode;
mod payouts;
mod rails;
mod transfers;
mod webhooks;
