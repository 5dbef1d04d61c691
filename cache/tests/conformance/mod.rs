//! The conformance suite every store runs (memory included).
//!
//! Plug a store in with [`conformance`]: it takes a function that returns a fresh handle on the
//! store under test (`Arc<dyn CacheStore>`); each check builds its own [`CacheManager`] over it
//! and uses its own plugin ids, so several stores (or several runs against one server) can run
//! at the same time. A failed check panics with the store's name.
//!
//! ```ignore
//! mod conformance; // from tests/conformance.rs itself: #[path = "conformance/mod.rs"]
//!
//! #[tokio::test]
//! async fn my_store() {
//!     conformance::conformance(|| Arc::new(MyStore::new()) as Arc<dyn CacheStore>).await;
//! }
//! ```

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backstage_cache::{
    CacheManager, CacheService, CacheServiceExt, CacheStore, Error, envelope, normalize_key,
};
use backstage_test_support::unique_name;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How long a short TTL lasts in the suite; waits are [`SHORT_TTL`] plus [`SETTLE`].
pub const SHORT_TTL: Duration = Duration::from_millis(1000);
/// Slack after a short TTL: memcached counts whole seconds.
pub const SETTLE: Duration = Duration::from_millis(1200);

/// A plugin id unique to this run (short: memcache keys carry it twice within 250 bytes).
pub fn plugin_id(tag: &str) -> String {
    unique_name(tag)
}

fn manager(store: Arc<dyn CacheStore>, default_ttl: Option<Duration>) -> CacheManager {
    let mut builder = CacheManager::builder()
        .store(store)
        .timeout(Duration::from_secs(3));
    if let Some(ttl) = default_ttl {
        builder = builder.default_ttl(ttl);
    }
    builder.build().unwrap()
}

/// Runs every check against the store `make` returns.
pub async fn conformance<F>(make: F)
where
    F: Fn() -> Arc<dyn CacheStore>,
{
    let name = make().name();
    // The checks that wait for expiry run alongside the others.
    tokio::join!(
        json_values_round_trip(make()),
        null_is_a_value_not_a_miss(make()),
        delete_and_overwrite(make()),
        ttl_expiry(make()),
        default_ttl_and_override(make()),
        plugins_are_namespaced(make()),
        long_and_unicode_keys(make()),
        typed_helpers(make()),
        concurrent_get_or_compute(make()),
        failed_loader_is_retried(make()),
        stored_bytes_are_keyv_envelopes(make()),
    );
    eprintln!("conformance: {name} passed");
}

/// Every JSON type comes back as it went in.
pub async fn json_values_round_trip(store: Arc<dyn CacheStore>) {
    let name = store.name();
    let cache = manager(store, None).for_plugin(&plugin_id("rt"));
    let values = [
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(-1),
        json!(42),
        json!(1.5),
        json!(-0.000_001_5),
        json!(1e300),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(""),
        json!("text"),
        json!(":colon"),
        json!("::two colons"),
        json!(":base64:AQI="),
        json!("héllo 日本 🎉 \u{0} \n \" \\ \u{2028}"),
        json!([]),
        json!({}),
        json!([1, "a", null, [2, [3, {}]], { "k": ":v" }]),
        json!({ "b": 1, "a": { "nested": [true, false] }, "10": "ten", "2": "two", "": "empty" }),
        json!({ "deep": { "deeper": { "deepest": [{ "x": ":y" }] } } }),
    ];
    for (i, value) in values.iter().enumerate() {
        let key = format!("value-{i}");
        cache.set(&key, Arc::new(value.clone()), None).await;
        assert_eq!(
            cache.get(&key).await.as_deref(),
            Some(value),
            "{name}: round trip of {value}"
        );
    }
}

/// `null` is stored and returned; an absent key is `None`.
pub async fn null_is_a_value_not_a_miss(store: Arc<dyn CacheStore>) {
    let name = store.name();
    let cache = manager(store, None).for_plugin(&plugin_id("null"));
    assert_eq!(cache.get("absent").await, None, "{name}: absent key");
    cache.set("null", Value::Null.into(), None).await;
    assert_eq!(
        cache.get("null").await.as_deref(),
        Some(&Value::Null),
        "{name}: null value"
    );
    assert_eq!(
        cache.get_as::<Option<u32>>("null").await.unwrap(),
        Some(None),
        "{name}: typed null"
    );
}

/// Deletes remove, a missing key deletes quietly, a second set overwrites.
pub async fn delete_and_overwrite(store: Arc<dyn CacheStore>) {
    let name = store.name();
    let cache = manager(store, None).for_plugin(&plugin_id("del"));
    cache.set("k", json!(1).into(), None).await;
    cache.set("k", json!(2).into(), None).await;
    assert_eq!(
        cache.get("k").await.as_deref(),
        Some(&json!(2)),
        "{name}: overwrite"
    );
    cache.delete("k").await;
    assert_eq!(cache.get("k").await, None, "{name}: deleted");
    cache.delete("never-set").await;
    cache.set("k", json!(3).into(), None).await;
    assert_eq!(
        cache.get("k").await.as_deref(),
        Some(&json!(3)),
        "{name}: set after delete"
    );
}

/// A per-call TTL expires the entry, through the client and in the store itself.
pub async fn ttl_expiry(store: Arc<dyn CacheStore>) {
    let name = store.name();
    let plugin = plugin_id("ttl");
    let cache = manager(store.clone(), None).for_plugin(&plugin);
    cache
        .set("short", json!("gone soon").into(), Some(SHORT_TTL))
        .await;
    cache
        .set(
            "long",
            json!("stays").into(),
            Some(Duration::from_secs(3600)),
        )
        .await;
    cache.set("forever", json!("stays").into(), None).await;
    assert_eq!(
        cache.get("short").await.as_deref(),
        Some(&json!("gone soon")),
        "{name}: before expiry"
    );
    // The server's own expiry, without the envelope check.
    store
        .set(&plugin, "raw", r#"{"value":1}"#.to_owned(), Some(SHORT_TTL))
        .await
        .unwrap();
    tokio::time::sleep(SHORT_TTL + SETTLE).await;
    assert_eq!(cache.get("short").await, None, "{name}: after expiry");
    assert_eq!(
        cache.get("long").await.as_deref(),
        Some(&json!("stays")),
        "{name}: long TTL"
    );
    assert_eq!(
        cache.get("forever").await.as_deref(),
        Some(&json!("stays")),
        "{name}: no TTL"
    );
    assert_eq!(
        store.get(&plugin, "raw").await.unwrap(),
        None,
        "{name}: the store expires entries itself"
    );
}

/// `backend.cache.defaultTtl`, `with_default_ttl` and per-call TTLs, in Keyv's order.
pub async fn default_ttl_and_override(store: Arc<dyn CacheStore>) {
    let name = store.name();
    let with_default = manager(store.clone(), Some(SHORT_TTL)).for_plugin(&plugin_id("dttl"));
    let without_default = manager(store, None).for_plugin(&plugin_id("nottl"));

    with_default.set("default", json!(1).into(), None).await;
    with_default
        .set("per-call-zero", json!(2).into(), Some(Duration::ZERO))
        .await;
    with_default
        .set(
            "per-call-long",
            json!(3).into(),
            Some(Duration::from_secs(3600)),
        )
        .await;
    let cancelled = with_default.with_default_ttl(Duration::ZERO);
    cancelled.set("cancelled", json!(4).into(), None).await;
    let longer = with_default.with_default_ttl(Duration::from_secs(3600));
    longer.set("longer", json!(5).into(), None).await;
    // An empty options merge keeps the current default.
    let kept = longer.with_options(Default::default());
    kept.set("kept", json!(6).into(), None).await;
    let shorter = without_default.with_default_ttl(SHORT_TTL);
    shorter.set("shorter", json!(7).into(), None).await;
    shorter
        .set(
            "shorter-overridden",
            json!(8).into(),
            Some(Duration::from_secs(3600)),
        )
        .await;

    tokio::time::sleep(SHORT_TTL + SETTLE).await;
    assert_eq!(
        with_default.get("default").await,
        None,
        "{name}: manager default"
    );
    assert_eq!(
        with_default.get("per-call-zero").await.as_deref(),
        Some(&json!(2)),
        "{name}: ttl 0"
    );
    assert_eq!(
        with_default.get("per-call-long").await.as_deref(),
        Some(&json!(3)),
        "{name}: override"
    );
    assert_eq!(
        with_default.get("cancelled").await.as_deref(),
        Some(&json!(4)),
        "{name}: default 0"
    );
    assert_eq!(
        with_default.get("longer").await.as_deref(),
        Some(&json!(5)),
        "{name}: longer default"
    );
    assert_eq!(
        with_default.get("kept").await.as_deref(),
        Some(&json!(6)),
        "{name}: merged options"
    );
    assert_eq!(
        without_default.get("shorter").await,
        None,
        "{name}: client default"
    );
    assert_eq!(
        without_default.get("shorter-overridden").await.as_deref(),
        Some(&json!(8)),
        "{name}: per-call over client default"
    );
}

/// Two plugins writing the same key do not see each other.
pub async fn plugins_are_namespaced(store: Arc<dyn CacheStore>) {
    let name = store.name();
    let manager = manager(store, None);
    let a = manager.for_plugin(&plugin_id("a"));
    let b = manager.for_plugin(&plugin_id("b"));
    a.set("shared", json!("from a").into(), None).await;
    assert_eq!(
        b.get("shared").await,
        None,
        "{name}: b must not see a's key"
    );
    b.set("shared", json!("from b").into(), None).await;
    assert_eq!(
        a.get("shared").await.as_deref(),
        Some(&json!("from a")),
        "{name}: a keeps its value"
    );
    assert_eq!(
        b.get("shared").await.as_deref(),
        Some(&json!("from b")),
        "{name}: b has its own"
    );
    a.delete("shared").await;
    assert_eq!(a.get("shared").await, None, "{name}: a deleted");
    assert_eq!(
        b.get("shared").await.as_deref(),
        Some(&json!("from b")),
        "{name}: b untouched"
    );
    // A second handle on the same plugin sees the same entries.
    let a_again = manager.for_plugin(a.plugin_id());
    b.set("again", json!(1).into(), None).await;
    a_again.set("again", json!(2).into(), None).await;
    assert_eq!(
        a.get("again").await.as_deref(),
        Some(&json!(2)),
        "{name}: same plugin, same keys"
    );
}

/// The empty key, keys at and past the hashing threshold, very long and unicode keys.
pub async fn long_and_unicode_keys(store: Arc<dyn CacheStore>) {
    let name = store.name();
    let cache = manager(store, None).for_plugin(&plugin_id("keys"));
    let keys = [
        String::new(),
        " ".to_owned(),
        "k".repeat(147),
        "k".repeat(148),
        "k".repeat(10_000),
        "ключ/日本語/🎉/with spaces and\nnewline".to_owned(),
        "é".repeat(100),
        "a:b:c/../%20?#".to_owned(),
    ];
    for (i, key) in keys.iter().enumerate() {
        cache.set(key, json!(i).into(), None).await;
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            cache.get(key).await.as_deref(),
            Some(&json!(i)),
            "{name}: key #{i} ({} bytes)",
            key.len()
        );
    }
    assert_eq!(
        cache.get(&"k".repeat(149)).await,
        None,
        "{name}: hashed keys differ"
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entity {
    kind: String,
    name: String,
    tags: Vec<String>,
    spec: Option<Value>,
}

/// `get_as`/`set_as` round-trip serde types; a shape mismatch is an error, not a panic.
pub async fn typed_helpers(store: Arc<dyn CacheStore>) {
    let name = store.name();
    let cache = manager(store, None).for_plugin(&plugin_id("typed"));
    let entity = Entity {
        kind: "Component".into(),
        name: ":leading-colon".into(),
        tags: vec!["a".into(), "ü".into()],
        spec: Some(json!({ "owner": "team" })),
    };
    cache.set_as("entity", &entity, None).await.unwrap();
    assert_eq!(
        cache.get_as::<Entity>("entity").await.unwrap(),
        Some(entity),
        "{name}: typed round trip"
    );
    assert!(
        matches!(cache.get_as::<u32>("entity").await, Err(Error::Json(_))),
        "{name}: shape mismatch"
    );
    assert_eq!(cache.get_as::<Entity>("absent").await.unwrap(), None);
}

/// Many callers asking for the same missing key run its loader once and all get its value.
pub async fn concurrent_get_or_compute(store: Arc<dyn CacheStore>) {
    let name = store.name();
    let cache = Arc::new(manager(store, None).for_plugin(&plugin_id("goc")));
    let runs = Arc::new(AtomicUsize::new(0));
    let mut callers = Vec::new();
    for _ in 0..32 {
        let cache = cache.clone();
        let runs = runs.clone();
        callers.push(tokio::spawn(async move {
            cache
                .get_or_compute("expensive", None, || async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Ok::<_, Error>(json!({ "computed": true }))
                })
                .await
                .unwrap()
        }));
    }
    for caller in callers {
        assert_eq!(caller.await.unwrap(), json!({ "computed": true }), "{name}");
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "{name}: the loader ran once"
    );
    // Cached now: no further run.
    let counter = runs.clone();
    let again: Value = cache
        .get_or_compute("expensive", None, || async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Error>(json!("recomputed"))
        })
        .await
        .unwrap();
    assert_eq!(again, json!({ "computed": true }), "{name}");
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "{name}: served from the cache"
    );
    // Different keys do not wait on each other.
    let (x, y) = tokio::join!(
        cache.get_or_compute("x", None, || async { Ok::<_, Error>(1u8) }),
        cache.get_or_compute("y", None, || async { Ok::<_, Error>(2u8) }),
    );
    assert_eq!((x.unwrap(), y.unwrap()), (1, 2), "{name}");
}

#[derive(Debug, PartialEq)]
struct Boom;

impl From<Error> for Boom {
    fn from(_: Error) -> Self {
        Boom
    }
}

/// A failing loader returns its own error to its caller, and the next caller loads again.
pub async fn failed_loader_is_retried(store: Arc<dyn CacheStore>) {
    let name = store.name();
    let cache = manager(store, None).for_plugin(&plugin_id("fail"));
    let failed: Result<u32, Boom> = cache
        .get_or_compute("k", None, || async { Err(Boom) })
        .await;
    assert_eq!(failed, Err(Boom), "{name}: loader error");
    assert_eq!(cache.get("k").await, None, "{name}: nothing stored");
    let ok: Result<u32, Boom> = cache.get_or_compute("k", None, || async { Ok(5) }).await;
    assert_eq!(ok, Ok(5), "{name}: retried");
}

/// What reaches the store is the normalised key and Keyv's envelope, byte for byte.
pub async fn stored_bytes_are_keyv_envelopes(store: Arc<dyn CacheStore>) {
    let name = store.name();
    let plugin = plugin_id("bytes");
    let cache = manager(store.clone(), None).for_plugin(&plugin);
    cache
        .set(
            "hello",
            json!({ "a": [1, ":x", 1.5], "1": null }).into(),
            None,
        )
        .await;
    assert_eq!(
        store.get(&plugin, "aGVsbG8=").await.unwrap().as_deref(),
        Some(r#"{"value":{"1":null,"a":[1,"::x",1.5]}}"#),
        "{name}: envelope without expiry"
    );
    cache
        .set("ttl", json!("v").into(), Some(Duration::from_secs(600)))
        .await;
    let stored = store
        .get(&plugin, &normalize_key("ttl"))
        .await
        .unwrap()
        .unwrap();
    let decoded = envelope::decode(&stored).unwrap();
    let expires = decoded.expires.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    assert!(
        (now + 590_000.0..=now + 600_000.0).contains(&expires),
        "{name}: expires is epoch ms ({expires})"
    );
    assert!(
        stored.starts_with(r#"{"value":"v","expires":"#),
        "{name}: {stored}"
    );
    // An entry written by another backend in Keyv's format is read.
    store
        .set(
            &plugin,
            &normalize_key("from-node"),
            r#"{"value":{"x":"::y"},"expires":null}"#.to_owned(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        cache.get("from-node").await.as_deref(),
        Some(&json!({ "x": ":y" })),
        "{name}"
    );
    // A garbage entry is a miss, not a crash.
    store
        .set(
            &plugin,
            &normalize_key("garbage"),
            "not json".to_owned(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        cache.get("garbage").await,
        None,
        "{name}: garbage is a miss"
    );
}
