//! The conformance suite (tests/conformance/mod.rs) against every store this build has: the
//! memory store always, and redis, valkey and memcache against the real servers named by
//! `REDIS_URL`, `VALKEY_URL`, `MEMCACHED_URL` and `MEMCACHED_URLS` (scripts/test or
//! scripts/with-servers start them; a missing server fails the test).

#![allow(clippy::unwrap_used)]

#[path = "conformance/mod.rs"]
mod conformance;

use std::sync::Arc;

use backstage_cache::CacheStore;
use backstage_cache::stores::MemoryStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory() {
    conformance::conformance(|| Arc::new(MemoryStore::new()) as Arc<dyn CacheStore>).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bounded() {
    conformance::conformance(|| {
        Arc::new(
            MemoryStore::builder()
                .max_entries(10_000)
                .max_bytes(16 << 20)
                .build()
                .unwrap(),
        ) as Arc<dyn CacheStore>
    })
    .await;
}

#[cfg(feature = "redis")]
mod redis {
    use super::*;
    use backstage_cache::stores::RedisStore;
    use backstage_test_support::Server;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis() {
        let url = Server::Redis.url();
        conformance::conformance(|| {
            Arc::new(RedisStore::open(&url).unwrap()) as Arc<dyn CacheStore>
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_with_namespace_and_separator() {
        let url = Server::Redis.url();
        conformance::conformance(|| {
            Arc::new(
                RedisStore::builder()
                    .url(url.clone())
                    .namespace("bs")
                    .separator("|")
                    .use_unlink(false)
                    .build()
                    .unwrap(),
            ) as Arc<dyn CacheStore>
        })
        .await;
    }
}

#[cfg(feature = "valkey")]
mod valkey {
    use super::*;
    use backstage_cache::stores::ValkeyStore;
    use backstage_test_support::Server;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn valkey() {
        let url = Server::Valkey.url();
        conformance::conformance(|| {
            Arc::new(
                ValkeyStore::builder()
                    .url(url.clone())
                    .key_prefix("app:")
                    .build()
                    .unwrap(),
            ) as Arc<dyn CacheStore>
        })
        .await;
    }
}

#[cfg(feature = "memcache")]
mod memcache {
    use super::*;
    use backstage_cache::stores::MemcacheStore;
    use backstage_test_support::Server;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memcache() {
        let url = Server::Memcached.url();
        conformance::conformance(|| {
            Arc::new(
                MemcacheStore::builder()
                    .servers(url.clone())
                    .build()
                    .unwrap(),
            ) as Arc<dyn CacheStore>
        })
        .await;
    }

    /// Backstage sends a sub-second TTL as 0 ("never expires") and a TTL over 30 days as a
    /// relative time memcached reads as a past date (dropped at once); we round the first up
    /// to one second and send the second as an absolute time.
    #[tokio::test]
    async fn memcache_ttl_edges() {
        use std::time::Duration;

        let store = MemcacheStore::builder()
            .servers(Server::Memcached.url())
            .build()
            .unwrap();
        let plugin = conformance::plugin_id("mcttl");
        let month = Duration::from_secs(31 * 24 * 3600);
        store
            .set(&plugin, "long", r#"{"value":1}"#.into(), Some(month))
            .await
            .unwrap();
        store
            .set(
                &plugin,
                "short",
                r#"{"value":2}"#.into(),
                Some(Duration::from_millis(300)),
            )
            .await
            .unwrap();
        assert!(
            store.get(&plugin, "long").await.unwrap().is_some(),
            "31 days"
        );
        assert!(
            store.get(&plugin, "short").await.unwrap().is_some(),
            "300 ms"
        );
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert!(
            store.get(&plugin, "long").await.unwrap().is_some(),
            "31 days, later"
        );
        assert_eq!(
            store.get(&plugin, "short").await.unwrap(),
            None,
            "300 ms, later"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memcache_two_servers() {
        let urls = Server::MemcachedCluster.urls();
        assert!(urls.len() >= 2, "MEMCACHED_URLS must name two servers");
        let list = urls.join(",");
        conformance::conformance(|| {
            Arc::new(
                MemcacheStore::builder()
                    .servers(list.clone())
                    .build()
                    .unwrap(),
            ) as Arc<dyn CacheStore>
        })
        .await;
    }
}
