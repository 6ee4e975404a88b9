//! Work that runs in the background of `outlay serve`. Every piece claims its work from the
//! database with a lease and goes through the engine's writer to change state, so any number of
//! nodes can run it and a crashed node's work is picked up once its lease expires.

pub mod jobs;
pub mod rails;
pub mod reports;
pub mod webhooks;
