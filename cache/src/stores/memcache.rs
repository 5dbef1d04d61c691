//! The memcache store (`store: memcache`, feature `memcache`).
//!
//! Built on the `memcache` crate's experimental async meta-protocol client, which stays behind
//! this module.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use backstage_backend_common::config::ConfigReader;
use memcache::exp::{AsyncMetaClient, GetStatus, Router, Ttl};

use crate::config::{Connection, connection, operation_timeout};
use crate::store::{CacheStore, StoreError};
use crate::{Error, Result};

/// Default server, as memjs uses when none is configured.
const DEFAULT_SERVER: &str = "localhost:11211";

/// memcached, one or more servers, keys spread as memjs spreads them.
///
/// Keys are `P:P:K` (the plugin id twice, as `@keyv/memcache` under Keyv writes them); values
/// are the envelope strings with client flags 0; a key goes to server
/// `hashCode(key) % servers` with memjs' Java-style string hash, so a Node backend with the
/// same server list finds the same entries. TTLs are whole seconds rounded up (a TTL under
/// one second becomes one second) and TTLs over 30 days are sent as an absolute Unix time.
/// A down server makes its keys miss; requests are not moved to another server.
///
/// ```no_run
/// use backstage_cache::stores::MemcacheStore;
///
/// # fn main() -> Result<(), backstage_cache::Error> {
/// let store = MemcacheStore::builder().servers("10.0.0.1:11211,10.0.0.2:11211").build()?;
/// # Ok(())
/// # }
/// ```
pub struct MemcacheStore {
    servers: Vec<String>,
    timeout: Duration,
    client: Mutex<Option<AsyncMetaClient>>,
    connecting: tokio::sync::Mutex<()>,
    closed: AtomicBool,
}

/// Builds a [`MemcacheStore`].
#[must_use]
#[derive(Debug, Clone)]
pub struct MemcacheStoreBuilder {
    servers: String,
    timeout: Duration,
}

impl MemcacheStoreBuilder {
    /// The servers: `host:port` or `memcache://host:port`, comma-separated (default
    /// `localhost:11211`; the port defaults to 11211).
    pub fn servers(mut self, servers: impl Into<String>) -> Self {
        self.servers = servers.into();
        self
    }

    /// Connect and exchange timeout (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The store; servers are resolved and dialled on first use.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a malformed server list, credentials (SASL needs the binary
    /// protocol, which this store does not speak) or a zero timeout.
    pub fn build(self) -> Result<MemcacheStore> {
        if self.timeout.is_zero() {
            return Err(Error::invalid_config(
                "backend.cache.timeout",
                "must be longer than zero",
            ));
        }
        Ok(MemcacheStore {
            servers: parse_servers(&self.servers)?,
            timeout: self.timeout,
            client: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
        })
    }
}

/// Splits a memjs-style server list.
fn parse_servers(list: &str) -> Result<Vec<String>> {
    const KEY: &str = "backend.cache.connection";
    let list = if list.trim().is_empty() {
        DEFAULT_SERVER
    } else {
        list
    };
    let mut servers = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let address = entry.strip_prefix("memcache://").unwrap_or(entry);
        let address = address.split(['/', '?']).next().unwrap_or(address);
        if address.contains('@') {
            return Err(Error::invalid_config(
                KEY,
                "memcache credentials (SASL) are not supported; use a server without authentication",
            ));
        }
        let (host, port) = match address.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || address.starts_with('[') => {
                let port: u16 = port.parse().map_err(|_| {
                    Error::invalid_config(KEY, format!("invalid port in memcache server '{entry}'"))
                })?;
                (host, port)
            }
            _ => (address, 11211),
        };
        if host.is_empty() {
            return Err(Error::invalid_config(
                KEY,
                format!("memcache server '{entry}' has no host"),
            ));
        }
        servers.push(format!("{host}:{port}"));
    }
    if servers.is_empty() {
        servers.push(DEFAULT_SERVER.to_owned());
    }
    Ok(servers)
}

/// memjs' server choice: `Math.abs(hashCode(key)) % servers`, with Java's `String.hashCode`
/// over UTF-16 code units (keys here are ASCII, so bytes).
struct MemjsRouter;

impl Router for MemjsRouter {
    fn route(&self, key: &[u8], servers: &[String]) -> usize {
        memjs_server(key, servers.len())
    }
}

fn memjs_server(key: &[u8], servers: usize) -> usize {
    if servers <= 1 {
        return 0;
    }
    let text = String::from_utf8_lossy(key);
    let mut hash: i32 = 0;
    for unit in text.encode_utf16() {
        hash = hash.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    // `Math.abs` of i32::MIN is 2^31 in JavaScript.
    let hash = u64::from(hash.unsigned_abs());
    // The remainder is below `servers`.
    #[allow(clippy::cast_possible_truncation)]
    let index = (hash % servers as u64) as usize;
    index
}

impl MemcacheStore {
    /// A builder.
    pub fn builder() -> MemcacheStoreBuilder {
        MemcacheStoreBuilder {
            servers: String::new(),
            timeout: crate::DEFAULT_TIMEOUT,
        }
    }

    /// The store configured by the root `config`: `backend.cache.connection` (the server list)
    /// and `backend.cache.timeout`.
    ///
    /// # Errors
    ///
    /// Config errors, and as [`MemcacheStoreBuilder::build`].
    pub fn from_config(config: &ConfigReader) -> Result<Self> {
        let servers = match connection(config, "memcache")? {
            Connection::Url(servers) => servers,
            Connection::Object { url, .. } => url,
        };
        Self::builder()
            .servers(servers)
            .timeout(operation_timeout(config)?)
            .build()
    }

    /// The servers, in configuration order (`host:port`).
    pub fn servers(&self) -> &[String] {
        &self.servers
    }

    /// The physical key of `key` (already normalised) for `plugin_id`: `P:P:K`.
    #[must_use]
    pub fn physical_key(plugin_id: &str, key: &str) -> String {
        let plugin_id = plugin_id.trim();
        let mut physical = String::with_capacity(plugin_id.len() * 2 + 2 + key.len());
        physical.push_str(plugin_id);
        physical.push(':');
        physical.push_str(plugin_id);
        physical.push(':');
        physical.push_str(key.trim());
        physical
    }

    /// The index (in [`servers`](Self::servers)) of the server holding `physical_key`.
    #[must_use]
    pub fn server_for(&self, physical_key: &str) -> usize {
        memjs_server(physical_key.as_bytes(), self.servers.len())
    }

    fn error(message: impl std::fmt::Display) -> StoreError {
        StoreError::new("memcache", message.to_string())
    }

    async fn client(&self) -> Result<AsyncMetaClient, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Self::error("the store is closed"));
        }
        if let Some(client) = self.current() {
            return Ok(client);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(client) = self.current() {
            return Ok(client);
        }
        let client = AsyncMetaClient::builder()
            .router(MemjsRouter)
            .connect_timeout(Some(self.timeout))
            .io_timeout(Some(self.timeout))
            .max_idle(256)
            .connect_multiple_async(self.servers.iter().map(String::as_str))
            .await
            .map_err(Self::error)?;
        if let Ok(mut slot) = self.client.lock()
            && !self.closed.load(Ordering::Acquire)
        {
            *slot = Some(client.clone());
        }
        Ok(client)
    }

    fn current(&self) -> Option<AsyncMetaClient> {
        self.client.lock().ok().and_then(|slot| slot.clone())
    }
}

impl std::fmt::Debug for MemcacheStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemcacheStore")
            .field("servers", &self.servers)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl CacheStore for MemcacheStore {
    fn name(&self) -> &'static str {
        "memcache"
    }

    async fn get(&self, plugin_id: &str, key: &str) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let result = client
            .get(Self::physical_key(plugin_id, key))
            .send()
            .await
            .map_err(Self::error)?;
        if result.status != GetStatus::Hit {
            return Ok(None);
        }
        match result.value {
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| Self::error("stored value is not UTF-8")),
            None => Ok(None),
        }
    }

    async fn set(
        &self,
        plugin_id: &str,
        key: &str,
        envelope: String,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let mut request = client.set(Self::physical_key(plugin_id, key), envelope);
        if let Some(ttl) = ttl {
            // Whole seconds rounded up; over 30 days becomes an absolute time at send.
            request = request.ttl(Ttl::from(ttl));
        }
        request.send().await.map_err(Self::error).map(|_| ())
    }

    async fn delete(&self, plugin_id: &str, key: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .delete(Self::physical_key(plugin_id, key))
            .send()
            .await
            .map_err(Self::error)
            .map(|_| ())
    }

    async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Ok(mut slot) = self.client.lock() {
            slot.take();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_lists_follow_memjs() {
        assert_eq!(parse_servers("").unwrap(), vec!["localhost:11211"]);
        assert_eq!(
            parse_servers("a:1, memcache://b:2/,c").unwrap(),
            vec!["a:1", "b:2", "c:11211"]
        );
        assert!(parse_servers("user:pass@a:1").is_err());
        assert!(parse_servers("a:notaport").is_err());
    }

    #[test]
    fn keys_carry_the_plugin_id_twice() {
        assert_eq!(
            MemcacheStore::physical_key("catalog", "aGVsbG8="),
            "catalog:catalog:aGVsbG8="
        );
    }

    #[test]
    fn routing_matches_memjs_hash_code() {
        // node -e "const {hashCode}=require('memjs/lib/memjs/utils'); for (const k of ['a','catalog:catalog:aGVsbG8=','zzzzzzzzzzzz']) console.log(hashCode(k))"
        let hash = |key: &str| {
            let mut h: i32 = 0;
            for u in key.encode_utf16() {
                h = h.wrapping_mul(31).wrapping_add(i32::from(u));
            }
            h.unsigned_abs()
        };
        assert_eq!(hash("a"), 97);
        assert_eq!(memjs_server(b"a", 2), 1);
        assert_eq!(memjs_server(b"a", 1), 0);
        assert_eq!(hash("catalog:catalog:aGVsbG8="), MEMJS_CATALOG_HASH);
        assert_eq!(hash("zzzzzzzzzzzz"), MEMJS_Z_HASH);
    }

    const MEMJS_CATALOG_HASH: u32 = 560_908_977;
    const MEMJS_Z_HASH: u32 = 1_097_476_992;
}
