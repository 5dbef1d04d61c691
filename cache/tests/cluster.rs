//! The conformance suite against three-node redis and valkey clusters this test starts itself
//! (tests/support): hash-slot routing, and no multi-key command across slots.

#![allow(clippy::unwrap_used)]

#[path = "conformance/mod.rs"]
mod conformance;
mod support;

use std::sync::Arc;

use backstage_cache::CacheStore;
use backstage_cache::stores::{RedisStore, ValkeyStore};
use support::{Kind, start_cluster};

fn node_urls(nodes: &[support::ServerProcess]) -> Vec<String> {
    nodes.iter().map(support::ServerProcess::url).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster() {
    let nodes = tokio::task::spawn_blocking(|| start_cluster(Kind::Redis))
        .await
        .unwrap();
    let urls = node_urls(&nodes);
    conformance::conformance(|| {
        Arc::new(
            RedisStore::builder()
                .cluster(urls.clone())
                .namespace("bs")
                .build()
                .unwrap(),
        ) as Arc<dyn CacheStore>
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valkey_cluster() {
    let nodes = tokio::task::spawn_blocking(|| start_cluster(Kind::Valkey))
        .await
        .unwrap();
    let urls: Vec<String> = node_urls(&nodes);
    conformance::conformance(|| {
        Arc::new(
            ValkeyStore::builder()
                .cluster(urls.clone())
                .key_prefix("app:")
                .build()
                .unwrap(),
        ) as Arc<dyn CacheStore>
    })
    .await;
}
