//! Byte compatibility with Backstage: vectors printed by `cache/benches/node/vectors.mjs`,
//! which drives Backstage's own `CacheManager` (`@backstage/backend-defaults` 0.18.0, keyv
//! 5.6.0) against real redis and memcached servers and reads back the physical keys and raw
//! values. Our key normalisation, envelope and physical keys must produce the same bytes, and
//! our memcache client must pick the same server for each key.

#![allow(clippy::unwrap_used)]

use backstage_cache::{envelope, normalize_key};
use serde_json::{Value, json};

/// `(key, value)` as the Node script wrote them.
fn entries() -> Vec<(String, Value)> {
    // The JavaScript literal `{ x: 1, 10: 'ten', 2: [true, null], s: ':a', ... }`, in its
    // source order; JavaScript enumerates `2` and `10` first.
    let hello: Value = serde_json::from_str(
        r#"{"x":1,"10":"ten","2":[true,null],"s":":a","f":1.5,"big":1e21,"tiny":1.5e-7}"#,
    )
    .unwrap();
    vec![
        ("hello".into(), hello),
        (String::new(), Value::Null),
        ("k".repeat(147), json!("at the base64 limit")),
        ("k".repeat(148), json!("hashed")),
        ("ключ/日本/🎉".into(), json!(["::", ":x", "é\n\"\\\u{1}"])),
        // `-0` in JavaScript.
        ("n".into(), json!(-0.0)),
    ]
}

/// `(normalised key, raw value)` as Backstage stored them, for plugin `compat`.
const STORED: [(&str, &str); 6] = [
    (
        "aGVsbG8=",
        r#"{"value":{"2":[true,null],"10":"ten","x":1,"s":"::a","f":1.5,"big":1e+21,"tiny":1.5e-7}}"#,
    ),
    ("", r#"{"value":null}"#),
    (
        "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tr",
        r#"{"value":"at the base64 limit"}"#,
    ),
    (
        "sqq7d3muSLtK4DbQEAGDFof6LB+UewDsJYtsg0+EplA=",
        r#"{"value":"hashed"}"#,
    ),
    (
        "0LrQu9GO0Ycv5pel5pysL/Cfjok=",
        r#"{"value":[":::","::x","é\n\"\\\u0001"]}"#,
    ),
    ("bg==", r#"{"value":0}"#),
];

/// Which of two memcached servers memjs put each entry on (same order as [`STORED`]).
#[cfg(feature = "memcache")]
const MEMCACHE_SERVER: [usize; 6] = [1, 0, 1, 0, 1, 1];

#[test]
fn keys_and_envelopes_match_backstage() {
    for ((key, value), (stored_key, stored_value)) in entries().iter().zip(STORED) {
        assert_eq!(normalize_key(key), stored_key, "key {key:?}");
        assert_eq!(
            envelope::encode(value, None),
            stored_value,
            "value of {key:?}"
        );
        let decoded = envelope::decode(stored_value).unwrap();
        let expected = if value.as_f64() == Some(0.0) {
            json!(0)
        } else {
            value.clone()
        };
        assert_eq!(decoded.value, expected, "decoded value of {key:?}");
    }
}

#[cfg(feature = "redis")]
#[test]
fn redis_keys_match_backstage() {
    use backstage_cache::stores::RedisStore;
    let plain = RedisStore::open("redis://127.0.0.1:6379").unwrap();
    let namespaced = RedisStore::builder()
        .namespace("bs")
        .separator("|")
        .build()
        .unwrap();
    for (key, _) in STORED {
        assert_eq!(plain.physical_key("compat", key), format!("compat:{key}"));
        assert_eq!(
            namespaced.physical_key("compat", key),
            format!("bs|compat|{key}")
        );
    }
}

#[cfg(feature = "memcache")]
#[test]
fn memcache_keys_and_servers_match_memjs() {
    use backstage_cache::stores::MemcacheStore;
    let store = MemcacheStore::builder()
        .servers("127.0.0.1:1,127.0.0.1:2")
        .build()
        .unwrap();
    for ((key, _), server) in STORED.iter().zip(MEMCACHE_SERVER) {
        let physical = MemcacheStore::physical_key("compat", key);
        assert_eq!(physical, format!("compat:compat:{key}"));
        assert_eq!(store.server_for(&physical), server, "{physical}");
    }
}

/// Live: our two-server client writes each key to the server memjs would read it from.
#[cfg(feature = "memcache")]
#[tokio::test]
async fn memcache_entries_land_where_memjs_looks() {
    use backstage_cache::CacheStore;
    use backstage_cache::stores::MemcacheStore;
    use backstage_test_support::{Server, unique_name};

    let urls = Server::MemcachedCluster.urls();
    assert!(urls.len() >= 2, "MEMCACHED_URLS must name two servers");
    let both = MemcacheStore::builder()
        .servers(urls[..2].join(","))
        .build()
        .unwrap();
    let single: Vec<MemcacheStore> = urls[..2]
        .iter()
        .map(|url| {
            MemcacheStore::builder()
                .servers(url.clone())
                .build()
                .unwrap()
        })
        .collect();
    let plugin = unique_name("mc");
    for i in 0..20 {
        let key = normalize_key(&format!("key-{i}"));
        both.set(&plugin, &key, format!("{{\"value\":{i}}}"), None)
            .await
            .unwrap();
        let server = both.server_for(&MemcacheStore::physical_key(&plugin, &key));
        for (index, store) in single.iter().enumerate() {
            let found = store.get(&plugin, &key).await.unwrap();
            assert_eq!(
                found.is_some(),
                index == server,
                "key-{i} on server {index}"
            );
        }
    }
}
