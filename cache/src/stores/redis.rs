//! The redis store (`store: redis`, feature `redis`).

use std::time::Duration;

use async_trait::async_trait;
use backstage_backend_common::config::ConfigReader;

use super::resp::{RespClient, Settings, apply_client_options, base_settings, read_cluster};
use crate::Result;
use crate::store::{CacheStore, StoreError};

/// Redis, standalone or cluster, over one pipelined connection shared by every plugin.
///
/// Keys are `P<sep>K`, or `N<sep>P<sep>K` with `client.namespace: N`, exactly as Backstage's
/// `@keyv/redis` writes them; values are the envelope strings; expiry is `SET … PX <ms>`.
/// Only single-key commands are sent (`GET`, `SET`, `UNLINK`/`DEL`), so a cluster never sees a
/// cross-slot request. The connection is made on first use and re-made with capped
/// exponential backoff after it breaks. In standalone mode the requests queued while a write is
/// answered go out together as one pipeline.
///
/// ```no_run
/// use std::sync::Arc;
/// use backstage_cache::CacheManager;
/// use backstage_cache::stores::RedisStore;
///
/// # fn main() -> Result<(), backstage_cache::Error> {
/// let store = RedisStore::builder().url("redis://127.0.0.1:6379").namespace("bs").build()?;
/// let manager = CacheManager::builder().store(Arc::new(store)).build()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct RedisStore {
    client: RespClient,
}

/// Builds a [`RedisStore`].
#[must_use]
#[derive(Clone)]
pub struct RedisStoreBuilder {
    settings: Settings,
    namespace: Option<String>,
}

impl RedisStoreBuilder {
    /// The server URL: `redis://[[user]:password@]host[:port][/db]`, `rediss://` for TLS
    /// (default `redis://127.0.0.1:6379`). Ignored in cluster mode.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.settings.url = url.into();
        self
    }

    /// Cluster mode with these seed node URLs.
    pub fn cluster<I: IntoIterator<Item = S>, S: Into<String>>(mut self, nodes: I) -> Self {
        self.settings.cluster_nodes = nodes.into_iter().map(Into::into).collect();
        self
    }

    /// A global prefix: keys become `N<sep>P<sep>K` (`client.namespace`).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// The separator (`client.keyPrefixSeparator`, default `:`; empty means `:`).
    pub fn separator(mut self, separator: impl Into<String>) -> Self {
        let separator = separator.into();
        self.settings.separator = if separator.is_empty() {
            ":".to_owned()
        } else {
            separator
        };
        self
    }

    /// `UNLINK` (default) or `DEL` for deletes (`client.useUnlink`).
    pub fn use_unlink(mut self, unlink: bool) -> Self {
        self.settings.use_unlink = unlink;
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

    /// TLS even for `redis://` URLs; `insecure` skips certificate verification.
    pub fn tls(mut self, insecure: bool) -> Self {
        self.settings.tls = true;
        self.settings.insecure = insecure;
        self
    }

    /// Cluster mode: send reads to replicas.
    pub fn read_from_replicas(mut self, replicas: bool) -> Self {
        self.settings.read_from_replicas = replicas;
        self
    }

    /// Cluster mode: how many `MOVED`/`ASK` redirections to follow.
    pub fn max_redirections(mut self, max: u32) -> Self {
        self.settings.max_redirections = Some(max);
        self
    }

    /// The store; no connection is made yet.
    ///
    /// # Errors
    ///
    /// [`Error::StoreSetup`](crate::Error::StoreSetup) for an invalid URL or cluster node,
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for a zero timeout.
    pub fn build(mut self) -> Result<RedisStore> {
        self.settings.prefix = match &self.namespace {
            Some(namespace) if !namespace.is_empty() => {
                format!("{namespace}{}", self.settings.separator)
            }
            _ => String::new(),
        };
        Ok(RedisStore {
            client: RespClient::new(self.settings)?,
        })
    }
}

impl RedisStore {
    /// A builder.
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder {
            settings: Settings::new("redis"),
            namespace: None,
        }
    }

    /// A standalone store at `url` with default settings.
    ///
    /// # Errors
    ///
    /// As [`RedisStoreBuilder::build`].
    pub fn open(url: &str) -> Result<Self> {
        Self::builder().url(url).build()
    }

    /// The store configured by the root `config`: `backend.cache.connection` (a URL, or an
    /// object `{ url, username, password, database, socket: { tls, keepAlive,
    /// connectTimeout, rejectUnauthorized } }`), `backend.cache.timeout` and
    /// `backend.cache.redis` (`client.namespace`, `client.keyPrefixSeparator`,
    /// `client.useUnlink`, `cluster.*`).
    ///
    /// # Errors
    ///
    /// Config errors, and as [`RedisStoreBuilder::build`].
    pub fn from_config(config: &ConfigReader) -> Result<Self> {
        const PATH: &str = "backend.cache.redis";
        let (settings, connection_options) = base_settings("redis", config)?;
        let mut builder = RedisStoreBuilder {
            settings,
            namespace: None,
        };
        if let Some(block) = config.optional_config(PATH)? {
            if let Some(namespace) = block.optional_string("client.namespace")? {
                builder = builder.namespace(namespace);
            }
            // An empty separator means the default, so read it without the empty-string check.
            match block.optional("client.keyPrefixSeparator")? {
                None => {}
                Some(serde_json::Value::String(separator)) => {
                    builder = builder.separator(separator)
                }
                Some(_) => {
                    return Err(crate::Error::invalid_config(
                        "backend.cache.redis.client.keyPrefixSeparator",
                        "must be a string",
                    ));
                }
            }
            if let Some(unlink) = block.optional_boolean("client.useUnlink")? {
                builder = builder.use_unlink(unlink);
            }
            read_cluster(&mut builder.settings, &block, PATH)?;
        }
        if let Some(options) = connection_options {
            apply_client_options(&mut builder.settings, &options, "backend.cache.connection")?;
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
impl CacheStore for RedisStore {
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

    fn store(cache: serde_json::Value) -> Result<RedisStore> {
        RedisStore::from_config(&ConfigReader::from_value(
            json!({ "backend": { "cache": cache } }),
        ))
    }

    #[test]
    fn keys_follow_keyv_redis() {
        let plain = store(json!({ "store": "redis" })).unwrap();
        assert_eq!(
            plain.physical_key("catalog", "aGVsbG8="),
            "catalog:aGVsbG8="
        );
        assert_eq!(plain.physical_key("catalog", ""), "catalog:");
        let namespaced = store(json!({
            "store": "redis",
            "redis": { "client": { "namespace": "bs", "keyPrefixSeparator": "|" } }
        }))
        .unwrap();
        assert_eq!(
            namespaced.physical_key("catalog", "aGVsbG8="),
            "bs|catalog|aGVsbG8="
        );
        let empty_separator = store(json!({
            "store": "redis",
            "redis": { "client": { "namespace": "bs", "keyPrefixSeparator": "" } }
        }))
        .unwrap();
        assert_eq!(empty_separator.physical_key("p", "k"), "bs:p:k");
    }

    #[test]
    fn config_forms_are_accepted() {
        store(json!({
            "store": "redis",
            "connection": {
                "url": "rediss://u:p@example.com:6380/2",
                "socket": { "keepAlive": false, "connectTimeout": 2000, "tls": true },
                "pingInterval": 1000
            }
        }))
        .unwrap();
        let cluster = store(json!({
            "store": "redis",
            "redis": { "cluster": {
                "rootNodes": [{ "url": "redis://127.0.0.1:7000" }, { "host": "127.0.0.1", "port": 7001 }],
                "defaults": { "password": "secret" },
                "useReplicas": true,
                "maxCommandRedirections": 5
            } }
        }))
        .unwrap();
        assert!(cluster.client.is_cluster());
        // No rootNodes: a warning, then standalone.
        let standalone = store(json!({ "store": "redis", "redis": { "cluster": {} } })).unwrap();
        assert!(!standalone.client.is_cluster());
    }

    #[test]
    fn bad_config_is_rejected() {
        assert!(store(json!({ "store": "redis", "connection": "http://nope" })).is_err());
        assert!(
            store(json!({ "store": "redis", "redis": { "cluster": { "rootNodes": [5] } } }))
                .is_err()
        );
        assert!(
            store(json!({ "store": "redis", "connection": { "url": "redis://x", "password": 5 } }))
                .is_err()
        );
    }
}
