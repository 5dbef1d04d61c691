//! The stock service factory in a real backend: two plugins get their own namespaced caches
//! over one store configured from `backend.cache`, and the store is closed at shutdown.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use backstage_backend_common::config::ConfigReader;
use backstage_cache::{CACHE, CacheService, cache_service_factory};
use backstage_core_app_api::DefaultServices;
use backstage_core_plugin_api::{BoxError, Plugin};
use serde_json::{Value, json};

type Seen = Arc<Mutex<Vec<(String, Option<Arc<Value>>, Option<Arc<Value>>)>>>;

/// A plugin that writes its own id under `k`, then reads `k` and `other`.
fn plugin(id: &'static str, seen: Seen) -> Plugin {
    Plugin::new(id, move |reg| {
        let seen = seen.clone();
        reg.register_init(CACHE, move |cache: Arc<dyn CacheService>| {
            let seen = seen.clone();
            async move {
                cache.set("k", json!(id).into(), None).await;
                cache.set(id, json!(true).into(), None).await;
                let own = cache.get("k").await;
                let other = cache.get(if id == "one" { "two" } else { "one" }).await;
                seen.lock()
                    .unwrap()
                    .push((cache.plugin_id().to_owned(), own, other));
                Ok::<_, BoxError>(())
            }
        });
    })
}

#[tokio::test]
async fn plugins_get_namespaced_caches_from_config() {
    let config = ConfigReader::from_value(json!({
        "backend": {
            "baseUrl": "http://localhost:7007",
            "auth": { "dangerouslyDisableDefaultAuthPolicy": true },
            "cache": { "store": "memory", "defaultTtl": { "minutes": 5 } },
        },
    }));
    let backend = DefaultServices::new()
        .config(config)
        .embedded()
        .backend()
        .unwrap();
    let seen = Seen::default();
    backend.add(cache_service_factory()).unwrap();
    backend.add(plugin("one", seen.clone())).unwrap();
    backend.add(plugin("two", seen.clone())).unwrap();
    backend.start().await.unwrap();
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        vec![
            ("one".to_owned(), Some(Arc::new(json!("one"))), None),
            ("two".to_owned(), Some(Arc::new(json!("two"))), None),
        ]
    );
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn a_bad_cache_config_fails_the_start() {
    let config = ConfigReader::from_value(json!({
        "backend": {
            "baseUrl": "http://localhost:7007",
            "auth": { "dangerouslyDisableDefaultAuthPolicy": true },
            "cache": { "store": "nosuchstore" },
        },
    }));
    let backend = DefaultServices::new()
        .config(config)
        .embedded()
        .backend()
        .unwrap();
    backend.add(cache_service_factory()).unwrap();
    backend.add(plugin("one", Seen::default())).unwrap();
    let error = backend.start().await.unwrap_err();
    let chain = format!("{error:?}");
    assert!(
        chain.contains("Unknown cache store: nosuchstore"),
        "{chain}"
    );
}
