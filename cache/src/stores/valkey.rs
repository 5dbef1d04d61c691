//! The valkey store (`store: valkey`, feature `valkey`).

use std::time::Duration;

use async_trait::async_trait;
use backstage_backend_common::config::ConfigReader;

use super::resp::{RespClient, Settings, base_settings, read_cluster};
use crate::Result;
use crate::store::{CacheStore, StoreError};

/// Valkey, standalone or cluster, over one pipelined connection shared by every plugin.
///
/// Keys are `<keyPrefix>P:K`: unlike Backstage 0.18 (which writes `<keyPrefix>K`, so plugins
/// overwrite each other, plus an ever-growing `namespace:` set in a `MULTI`), the plugin id is
/// part of the key and only single-key commands are sent, so a cluster never sees a
/// cross-slot transaction. Values are the envelope strings; expiry is `SET … PX <ms>`.
///
/// ```no_run
/// use backstage_cache::stores::ValkeyStore;
///
/// # fn main() -> Result<(), backstage_cache::Error> {
/// let store = ValkeyStore::builder().url("valkey://127.0.0.1:6379").key_prefix("app:").build()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ValkeyStore {
    client: RespClient,
}

/// Builds a [`ValkeyStore`].
#[must_use]
#[derive(Clone)]
pub struct ValkeyStoreBuilder {
    settings: Settings,
}

impl ValkeyStoreBuilder {
    /// The server URL: `valkey://` or `redis://` (`valkeys://`/`rediss://` for TLS), default
    /// `redis://127.0.0.1:6379`. Ignored in cluster mode.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.settings.url = url.into();
        self
    }

    /// Cluster mode with these seed node URLs.
    pub fn cluster<I: IntoIterator<Item = S>, S: Into<String>>(mut self, nodes: I) -> Self {
        self.settings.cluster_nodes = nodes.into_iter().map(Into::into).collect();
        self
    }

    /// Written before every key, separator included (`client.keyPrefix`, e.g. `app:`).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.prefix = prefix.into();
        self
    }

    /// Connect and response timeout (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// TCP keepalive idle time (default 5 s); `None` turns it off.
    pub fn keepalive(mut self, idle: Option<Duration>) -> Self {
        self.settings.keepalive = idle;
        self
    }

    /// Credentials, overriding the URL's.
    pub fn credentials(mut self, username: Option<String>, password: Option<String>) -> Self {
        self.settings.username = username;
        self.settings.password = password;
        self
    }

    /// Cluster mode: send reads to replicas.
    pub fn read_from_replicas(mut self, replicas: bool) -> Self {
        self.settings.read_from_replicas = replicas;
        self
    }

    /// The store; no connection is made yet.
    ///
    /// # Errors
    ///
    /// [`Error::StoreSetup`](crate::Error::StoreSetup) for an invalid URL or cluster node,
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for a zero timeout.
    pub fn build(self) -> Result<ValkeyStore> {
        Ok(ValkeyStore {
            client: RespClient::new(self.settings)?,
        })
    }
}

impl ValkeyStore {
    /// A builder.
    pub fn builder() -> ValkeyStoreBuilder {
        ValkeyStoreBuilder {
            settings: Settings::new("valkey"),
        }
    }

    /// A standalone store at `url` with default settings.
    ///
    /// # Errors
    ///
    /// As [`ValkeyStoreBuilder::build`].
    pub fn open(url: &str) -> Result<Self> {
        Self::builder().url(url).build()
    }

    /// The store configured by the root `config`: `backend.cache.connection` (a URL),
    /// `backend.cache.timeout` and `backend.cache.valkey` (`client.keyPrefix`,
    /// `cluster.rootNodes` as `[{ host, port }]` or `[{ url }]`, `cluster.defaults`,
    /// `cluster.useReplicas`, `cluster.maxCommandRedirections`).
    ///
    /// # Errors
    ///
    /// Config errors, and as [`ValkeyStoreBuilder::build`].
    pub fn from_config(config: &ConfigReader) -> Result<Self> {
        const PATH: &str = "backend.cache.valkey";
        let (settings, _) = base_settings("valkey", config)?;
        let mut builder = ValkeyStoreBuilder { settings };
        if let Some(block) = config.optional_config(PATH)? {
            if let Some(prefix) = block.optional_string("client.keyPrefix")? {
                builder = builder.key_prefix(prefix);
            }
            read_cluster(&mut builder.settings, &block, PATH)?;
        }
        builder.build()
    }

    /// The physical key of `key` (already normalised) for `plugin_id`.
    #[must_use]
    pub fn physical_key(&self, plugin_id: &str, key: &str) -> String {
        self.client.physical_key(plugin_id, key)
    }
}

#[async_trait]
impl CacheStore for ValkeyStore {
    fn name(&self) -> &'static str {
        self.client.name()
    }

    async fn get(&self, plugin_id: &str, key: &str) -> Result<Option<String>, StoreError> {
        self.client.get(plugin_id, key).await
    }

    async fn set(
        &self,
        plugin_id: &str,
        key: &str,
        envelope: String,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        self.client.set(plugin_id, key, envelope, ttl).await
    }

    async fn delete(&self, plugin_id: &str, key: &str) -> Result<(), StoreError> {
        self.client.delete(plugin_id, key).await
    }

    async fn close(&self) {
        self.client.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store(cache: serde_json::Value) -> Result<ValkeyStore> {
        ValkeyStore::from_config(&ConfigReader::from_value(
            json!({ "backend": { "cache": cache } }),
        ))
    }

    #[test]
    fn keys_include_the_plugin_id() {
        let plain = store(json!({ "store": "valkey" })).unwrap();
        assert_eq!(
            plain.physical_key("catalog", "aGVsbG8="),
            "catalog:aGVsbG8="
        );
        let prefixed = store(json!({
            "store": "valkey",
            "valkey": { "client": { "keyPrefix": "app:" } }
        }))
        .unwrap();
        assert_eq!(
            prefixed.physical_key("catalog", "aGVsbG8="),
            "app:catalog:aGVsbG8="
        );
    }

    #[test]
    fn cluster_nodes_as_host_and_port() {
        let cluster = store(json!({
            "store": "valkey",
            "valkey": { "cluster": { "rootNodes": [{ "host": "127.0.0.1", "port": 7000 }] } }
        }))
        .unwrap();
        assert!(cluster.client.is_cluster());
        assert!(
            store(json!({
                "store": "valkey",
                "valkey": { "cluster": { "rootNodes": [{ "host": "h", "port": 70000 }] } }
            }))
            .is_err()
        );
    }
}
