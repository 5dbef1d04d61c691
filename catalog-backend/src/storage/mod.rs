//! The catalog's tables on the `database` crate (SQLite, PostgreSQL) and every operation the
//! engine and the API run on them.
//!
//! (Being written: see the crate's work-in-progress notes.)

use backstage_database::DatabaseClient;

use crate::error::Result;

/// The catalog's storage.
#[derive(Debug, Clone)]
pub struct CatalogStore {
    client: DatabaseClient,
}

impl CatalogStore {
    /// Opens the store on a plugin database and runs the catalog's migrations.
    ///
    /// # Errors
    /// Migration failures.
    pub async fn open(client: DatabaseClient) -> Result<Self> {
        Ok(Self { client })
    }

    /// The database client.
    pub fn client(&self) -> &DatabaseClient {
        &self.client
    }
}
