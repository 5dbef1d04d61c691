//! Fault tests against real servers this test starts itself (tests/support): the server is
//! killed by its PID while requests are in flight, every call stays within the timeout while it
//! is down (a `get` misses, a `set`/`delete` does nothing), and the cache recovers once the
//! server is back on the same port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use backstage_cache::stores::{MemcacheStore, RedisStore, ValkeyStore};
use backstage_cache::{CacheClient, CacheManager, CacheService, CacheStore};
use backstage_test_support::unique_name;
use serde_json::json;
use support::{Kind, ServerProcess};

/// The per-call timeout of these tests.
const TIMEOUT: Duration = Duration::from_millis(400);
/// What a call may take while the server is down: the timeout plus scheduling slack.
const BOUND: Duration = Duration::from_millis(1500);
/// How long the cache may take to answer again once the server is back.
const RECOVERY: Duration = Duration::from_secs(15);

fn client(store: Arc<dyn CacheStore>) -> (CacheManager, CacheClient) {
    let manager = CacheManager::builder()
        .store(store)
        .timeout(TIMEOUT)
        .build()
        .unwrap();
    let client = manager.for_plugin(&unique_name("fault"));
    (manager, client)
}

async fn timed<T>(what: &str, future: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let value = future.await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < BOUND,
        "{what} took {elapsed:?} while the server was down"
    );
    value
}

/// Calls made while the server is down return within the bound and degrade.
async fn calls_degrade(cache: &CacheClient) {
    for round in 0..2 {
        let what = format!("{} round {round}", cache.store().name());
        assert_eq!(timed(&format!("get ({what})"), cache.get("k")).await, None);
        timed(
            &format!("set ({what})"),
            cache.set("k", json!(1).into(), None),
        )
        .await;
        timed(&format!("delete ({what})"), cache.delete("k")).await;
    }
}

async fn recovers(cache: &CacheClient) {
    let started = Instant::now();
    loop {
        cache.set("recovered", json!("yes").into(), None).await;
        if cache.get("recovered").await.as_deref() == Some(&json!("yes")) {
            return;
        }
        assert!(
            started.elapsed() < RECOVERY,
            "{} did not recover within {RECOVERY:?}",
            cache.store().name()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The whole scenario: works, connection cut under load, down, restarted, works again.
async fn outage_and_recovery(kind: Kind, open: impl Fn(&str) -> Arc<dyn CacheStore>) {
    let mut server = ServerProcess::start(kind);
    let (manager, cache) = client(open(&server.url()));
    cache.set("k", json!({ "before": true }).into(), None).await;
    assert_eq!(
        cache.get("k").await.as_deref(),
        Some(&json!({ "before": true }))
    );

    // Requests in flight when the connection is cut.
    let load: Vec<_> = (0..16)
        .map(|i| {
            let cache = cache.clone();
            tokio::spawn(async move {
                let mut slowest = Duration::ZERO;
                let until = Instant::now() + Duration::from_millis(1200);
                let key = format!("load-{i}");
                while Instant::now() < until {
                    let started = Instant::now();
                    cache.set(&key, json!(i).into(), None).await;
                    let _ = cache.get(&key).await;
                    slowest = slowest.max(started.elapsed());
                }
                slowest
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.stop();
    for task in load {
        let slowest = task.await.expect("a request task panicked");
        assert!(slowest < 2 * BOUND, "a set+get pair took {slowest:?}");
    }

    calls_degrade(&cache).await;
    server.restart();
    recovers(&cache).await;
    manager.close().await;
    // Closed: calls still return quickly.
    assert_eq!(timed("get after close", cache.get("recovered")).await, None);
}

/// A store created while its server is down misses quickly, then picks the server up.
async fn down_at_first_use(kind: Kind, open: impl Fn(&str) -> Arc<dyn CacheStore>) {
    let mut server = ServerProcess::start(kind);
    server.stop();
    let (manager, cache) = client(open(&server.url()));
    calls_degrade(&cache).await;
    server.restart();
    recovers(&cache).await;
    manager.close().await;
}

fn redis(url: &str) -> Arc<dyn CacheStore> {
    Arc::new(
        RedisStore::builder()
            .url(url)
            .timeout(TIMEOUT)
            .build()
            .unwrap(),
    )
}

fn valkey(url: &str) -> Arc<dyn CacheStore> {
    Arc::new(
        ValkeyStore::builder()
            .url(url)
            .timeout(TIMEOUT)
            .build()
            .unwrap(),
    )
}

fn memcache(url: &str) -> Arc<dyn CacheStore> {
    Arc::new(
        MemcacheStore::builder()
            .servers(url)
            .timeout(TIMEOUT)
            .build()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_and_recovery() {
    outage_and_recovery(Kind::Redis, redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_first_use() {
    down_at_first_use(Kind::Redis, redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valkey_outage_and_recovery() {
    outage_and_recovery(Kind::Valkey, valkey).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcache_outage_and_recovery() {
    outage_and_recovery(Kind::Memcached, memcache).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcache_down_at_first_use() {
    down_at_first_use(Kind::Memcached, memcache).await;
}
