//! PostgreSQL: for many Outlay nodes on one database.


use crate::{StoreError, StoreResult};

pub struct PgStore;

impl PgStore {
    pub async fn open(_url: &str) -> StoreResult<Self> {
        Err(StoreError::Config("postgres backend not built yet".into()))
    }
}
