//! The Infinispan store: a Hot Rod client of our own on tokio (no Rust client exists).
//!
//! Backstage talks to Infinispan through the `infinispan` npm client; this module speaks the
//! same protocol the same way, so a Rust and a Node backend can share one cache:
//!
//! * entries live in the configured cache (`cacheName`, default `cache`) under the key
//!   `<plugin id>:<normalised key>`, with the serialised envelope as the value, both as
//!   `text/plain` strings (or JSON string literals with `application/json`);
//! * `get` is a Hot Rod GET, `set` a PUT whose lifespan is the TTL in milliseconds (expiration
//!   byte `0x17`) or the server default without a TTL (`0x77`), `delete` a REMOVE;
//! * protocol 2.9 by default (2.2, 2.5 and 3.0 selectable), media types in the header, client
//!   intelligence 3 with `topologyUpdates` (segment owners are followed using Infinispan's
//!   MurmurHash3), SASL PLAIN, SCRAM-SHA-1/256/384/512, EXTERNAL and OAUTHBEARER, TLS with
//!   rustls, failover across the configured servers and backup clusters.
//!
//! Unlike Backstage, one client serves every plugin, every operation is bounded by a timeout
//! (1 s by default), and a server that is down is retried with backoff until it is back (the
//! npm client gives up for good when its first connection fails). A TTL with a fractional
//! millisecond is rounded up (Backstage's `<ttl>ms` string turns `1.5` into `5ms`). See [`client`] for the
//! connection rules and [`InfinispanConfig`] for the config keys and their quirks.
//!
//! [`HotRodClient`] is usable on its own (it also has CLEAR and PING). With the
//! `infinispan-test-server` feature, `test_server` is a small in-memory Hot Rod server written
//! from the protocol documentation, used by the tests and the `hotrod-test-server` binary.

pub mod client;
pub mod codec;
pub mod config;
mod connection;
pub mod error;
pub mod hash;
pub mod sasl;
#[cfg(feature = "infinispan-test-server")]
pub mod test_server;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backstage_backend_common::config::ConfigReader;

pub use client::{HotRodClient, HotRodClientBuilder};
pub use codec::{MediaType, ProtocolVersion};
pub use config::{
    AuthConfig, ClusterConfig, InfinispanConfig, ServerAddress, TlsOptions, TlsProtocol,
};
pub use error::HotRodError;
pub use sasl::{Credentials, SaslMechanism};

use crate::store::{CacheStore, StoreError};

/// The store name.
const NAME: &str = "infinispan";

/// The `infinispan` cache store: a [`CacheStore`] over a [`HotRodClient`].
#[derive(Debug, Clone)]
pub struct InfinispanStore {
    client: HotRodClient,
}

impl InfinispanStore {
    /// A store over `client`.
    #[must_use]
    pub fn new(client: HotRodClient) -> Self {
        Self { client }
    }

    /// Builds the store from `backend.cache.infinispan` (`config` is the root config; the
    /// `backend.cache` reader works too). The operation timeout is `backend.cache.timeout`
    /// (default 1 s) when given the root config. Nothing connects until the first operation,
    /// so a server that is down at startup is not an error.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig)/[`Error::Config`](crate::Error::Config)
    /// when the block is invalid (see [`InfinispanConfig::from_config`]),
    /// [`Error::StoreSetup`](crate::Error::StoreSetup) when TLS files cannot be used.
    pub fn from_config(config: &ConfigReader) -> Result<Arc<dyn CacheStore>, crate::Error> {
        let mut settings = InfinispanConfig::from_config(config)?;
        if config.prefix().is_empty() {
            settings.timeout = crate::config::operation_timeout(config)?;
        }
        let client = HotRodClient::builder().config(settings).build()?;
        Ok(Arc::new(Self::new(client)))
    }

    /// The underlying client.
    #[must_use]
    pub fn client(&self) -> &HotRodClient {
        &self.client
    }
}

/// The physical key, as Backstage's Keyv namespace writes it: `<plugin id>:<key>`.
fn physical_key(plugin_id: &str, key: &str) -> String {
    format!("{plugin_id}:{key}")
}

/// A [`StoreError`] whose message carries the whole error chain.
fn store_error(error: &HotRodError) -> StoreError {
    StoreError::new(NAME, error::chain(error))
}

#[async_trait]
impl CacheStore for InfinispanStore {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn get(&self, plugin_id: &str, key: &str) -> Result<Option<String>, StoreError> {
        self.client
            .get(&physical_key(plugin_id, key))
            .await
            .map_err(|e| store_error(&e))
    }

    async fn set(
        &self,
        plugin_id: &str,
        key: &str,
        envelope: String,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        self.client
            .put(&physical_key(plugin_id, key), &envelope, ttl)
            .await
            .map_err(|e| store_error(&e))
    }

    async fn delete(&self, plugin_id: &str, key: &str) -> Result<(), StoreError> {
        self.client
            .remove(&physical_key(plugin_id, key))
            .await
            .map(|_| ())
            .map_err(|e| store_error(&e))
    }

    async fn close(&self) {
        self.client.close();
    }
}
