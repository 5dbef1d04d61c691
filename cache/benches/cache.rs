//! Hot paths of the cache: key normalisation, the value envelope, and the memory store through
//! the plugin-facing client.
//!
//! ```sh
//! cargo bench -p backstage-cache --bench cache
//! ```

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backstage_cache::stores::MemoryStore;
use backstage_cache::{CacheManager, CacheService, envelope, normalize_key};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::Value;

/// The 100-byte value of `cache-bench`.
const VALUE: &str = r#"{"id":12345,"kind":"Component","name":"bench-entity","tags":["a","b","c"],"ok":true,"note":"xxxxxx"}"#;

fn keys_and_envelopes(c: &mut Criterion) {
    let value: Value = serde_json::from_str(VALUE).unwrap();
    let text = envelope::encode(&value, Some(1_795_249_618_237));
    let mut group = c.benchmark_group("envelope");
    group.bench_function("normalize_key/short", |b| {
        b.iter(|| normalize_key(black_box("component:default/bench-entity")));
    });
    let long = "k".repeat(300);
    group.bench_function("normalize_key/hashed", |b| {
        b.iter(|| normalize_key(black_box(&long)));
    });
    group.bench_function("encode/100B", |b| {
        b.iter(|| envelope::encode(black_box(&value), Some(1_795_249_618_237)));
    });
    group.bench_function("decode/100B", |b| {
        b.iter(|| envelope::decode(black_box(&text)));
    });
    group.bench_function("serde_json::Value::clone/100B", |b| {
        b.iter(|| black_box(&value).clone());
    });
    group.finish();
}

fn memory_store(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let manager = CacheManager::with_store(Arc::new(MemoryStore::new()));
    let cache = manager.for_plugin("bench");
    let value: Arc<Value> = Arc::new(serde_json::from_str(VALUE).unwrap());
    let keys: Vec<String> = (0..1000).map(|i| format!("bench-key-{i}")).collect();
    runtime.block_on(async {
        for key in &keys {
            cache.set(key, value.clone(), None).await;
        }
    });

    // Timed inside one `block_on` so entering the runtime is not measured.
    macro_rules! timed {
        ($iters:expr, |$i:ident| $body:expr) => {{
            runtime.block_on(async {
                let started = Instant::now();
                for n in 0..$iters {
                    let $i = usize::try_from(n).unwrap_or(0) % keys.len();
                    black_box($body);
                }
                started.elapsed()
            })
        }};
    }
    let mut group = c.benchmark_group("memory");
    group.bench_function("get/hit", |b| {
        b.iter_custom(|iters| timed!(iters, |i| cache.get(&keys[i]).await));
    });
    group.bench_function("get/miss", |b| {
        b.iter_custom(|iters| timed!(iters, |i| cache.get(&keys[i][1..]).await));
    });
    group.bench_function("set/overwrite", |b| {
        b.iter_custom(|iters| timed!(iters, |i| cache.set(&keys[i], value.clone(), None).await));
    });
    group.bench_function("set/fresh_value", |b| {
        b.iter_custom(|iters| {
            timed!(iters, |i| cache
                .set(&keys[i], Arc::new(Value::clone(&value)), None)
                .await)
        });
    });
    group.bench_function("set/with_ttl", |b| {
        b.iter_custom(|iters| {
            timed!(iters, |i| cache
                .set(&keys[i], value.clone(), Some(Duration::from_secs(60)))
                .await)
        });
    });
    group.finish();
}

criterion_group!(benches, keys_and_envelopes, memory_store);
criterion_main!(benches);
