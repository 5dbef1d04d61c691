//! The Infinispan store and its Hot Rod client.
//!
//! No Infinispan server can be installed here (not in Debian, PyPI or npm), so these tests run
//! against the in-memory Hot Rod test server (`test_server`, written from the protocol
//! documentation), and that server is cross-checked with the `infinispan` npm client — the
//! client Backstage uses — so two independent clients agree with it, byte for byte.
//!
//! * `npm_*` tests need Node.js and `npm ci` in `cache/tests/compat`; `scripts/test` does both.
//!   They fail (not skip) when either is missing.
//! * With `INFINISPAN_URL=host:port` set, `real_server_round_trips` also runs against that
//!   server (cache `INFINISPAN_CACHE`, default `cache`; credentials from `INFINISPAN_USER`,
//!   `INFINISPAN_PASSWORD` and `INFINISPAN_MECHANISM`, default `SCRAM-SHA-256`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "conformance/mod.rs"]
mod conformance;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backstage_backend_common::config::ConfigReader;
use backstage_cache::stores::infinispan::codec::{MediaType, ProtocolVersion};
use backstage_cache::stores::infinispan::hash::murmur_hash3;
use backstage_cache::stores::infinispan::test_server::{
    TestAuth, TestServer, TestTopology, black_hole,
};
use backstage_cache::stores::infinispan::{
    Credentials, HotRodClient, HotRodError, InfinispanStore, SaslMechanism, TlsOptions,
};
use backstage_cache::{CacheService as _, CacheStore};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};

const SETUP_HINT: &str = "run `scripts/test` (it installs Node.js and runs `npm ci` in every \
                          */tests/compat folder), or by hand: `cd cache/tests/compat && npm ci`";

/// Operations that authenticate with SCRAM get more time: PBKDF2 (4096 rounds, client and
/// server) is slow in unoptimised test builds on a loaded machine.
const SCRAM_TIMEOUT: Duration = Duration::from_secs(10);

fn client(server: &TestServer) -> backstage_cache::stores::infinispan::HotRodClientBuilder {
    HotRodClient::builder()
        .server("127.0.0.1", server.port())
        .timeout(Duration::from_millis(800))
}

async fn server() -> TestServer {
    TestServer::builder()
        .start()
        .await
        .expect("test server starts")
}

// -------------------------------------------------------------------------------------------
// Round trips
// -------------------------------------------------------------------------------------------

#[tokio::test]
async fn store_round_trips_with_backstage_keys() {
    let server = server().await;
    let store = InfinispanStore::new(client(&server).build().unwrap());
    assert_eq!(store.name(), "infinispan");
    assert_eq!(store.get("catalog", "aGVsbG8=").await.unwrap(), None);
    store
        .set("catalog", "aGVsbG8=", r#"{"value":{"x":1}}"#.into(), None)
        .await
        .unwrap();
    assert_eq!(
        store.get("catalog", "aGVsbG8=").await.unwrap().as_deref(),
        Some(r#"{"value":{"x":1}}"#)
    );
    // Physical key `P:K`, plain UTF-8 value, in cache `cache`.
    assert_eq!(
        server.stored("cache", b"catalog:aGVsbG8=").as_deref(),
        Some(&br#"{"value":{"x":1}}"#[..])
    );
    // Plugins do not see each other's keys.
    assert_eq!(store.get("scaffolder", "aGVsbG8=").await.unwrap(), None);
    store.delete("catalog", "aGVsbG8=").await.unwrap();
    store.delete("catalog", "aGVsbG8=").await.unwrap(); // missing key: fine
    assert_eq!(store.get("catalog", "aGVsbG8=").await.unwrap(), None);
    // The empty key is valid.
    store.set("catalog", "", "{}".into(), None).await.unwrap();
    assert!(server.stored("cache", b"catalog:").is_some());
    store.close().await;
    assert!(store.get("catalog", "").await.is_err());
}

#[tokio::test]
async fn client_get_put_remove_clear_ping() {
    let server = server().await;
    let client = client(&server).build().unwrap();
    let ping = client.ping().await.unwrap();
    assert_eq!(ping.key_media_type.as_deref(), Some("text/plain"));
    client.put("a", "1", None).await.unwrap();
    client.put("b", "ünï©ødé 🚀", None).await.unwrap();
    assert_eq!(
        client.get("b").await.unwrap().as_deref(),
        Some("ünï©ødé 🚀")
    );
    assert!(client.remove("a").await.unwrap());
    assert!(!client.remove("a").await.unwrap());
    client.clear().await.unwrap();
    assert!(server.is_empty("cache"));
    assert_eq!(client.get("b").await.unwrap(), None);
    // A 1 MiB value.
    let big = "x".repeat(1 << 20);
    client.put("big", &big, None).await.unwrap();
    assert_eq!(
        client.get("big").await.unwrap().map(|v| v.len()),
        Some(1 << 20)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_operations_and_dropped_futures() {
    let server = server().await;
    let client = client(&server)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let key = format!("k{i}");
                client.put(&key, &format!("v{i}"), None).await?;
                client.get(&key).await
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap().unwrap(), Some(format!("v{i}")));
    }
    assert_eq!(server.len("cache"), 200);
    // Futures dropped halfway (a caller's own timeout) leave the client usable at once.
    for _ in 0..20 {
        let _ = tokio::time::timeout(Duration::from_micros(50), client.get("k1")).await;
    }
    assert_eq!(client.get("k1").await.unwrap().as_deref(), Some("v1"));
}

#[tokio::test]
async fn lifespan_is_sent_in_milliseconds_and_expires() {
    let server = server().await;
    let client = client(&server).build().unwrap();
    client
        .put("short", "v", Some(Duration::from_millis(400)))
        .await
        .unwrap();
    assert_eq!(client.get("short").await.unwrap().as_deref(), Some("v"));
    client.put("forever", "v", None).await.unwrap();
    client
        .put("fraction", "v", Some(Duration::from_micros(1500)))
        .await
        .unwrap();
    let puts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.opcode == 0x01)
        .collect();
    // Backstage: 0x17 + lifespan in ms with a TTL, 0x77 without.
    assert_eq!(
        (puts[0].expiration, puts[0].lifespan),
        (Some(0x17), Some(400))
    );
    assert_eq!((puts[1].expiration, puts[1].lifespan), (Some(0x77), None));
    assert_eq!(puts[2].lifespan, Some(2), "sub-millisecond parts round up");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(client.get("short").await.unwrap(), None);
    assert_eq!(client.get("forever").await.unwrap().as_deref(), Some("v"));
}

#[tokio::test]
async fn every_protocol_version_round_trips() {
    let server = server().await;
    for version in [
        ProtocolVersion::V22,
        ProtocolVersion::V25,
        ProtocolVersion::V29,
        ProtocolVersion::V30,
    ] {
        server.clear_requests();
        let client = client(&server).version(version).build().unwrap();
        let key = format!("k{version}");
        client
            .put(&key, "v", Some(Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(client.get(&key).await.unwrap().as_deref(), Some("v"));
        let ping = client.ping().await.unwrap();
        let requests = server.requests();
        assert!(requests.iter().all(|r| r.version == version.byte()));
        assert_eq!(
            requests[0].key_media_type.is_some(),
            version.has_header_media_types()
        );
        assert_eq!(
            ping.key_media_type.is_some(),
            version.ping_has_media_types()
        );
        if version == ProtocolVersion::V30 {
            assert_eq!(ping.server_version, Some(30));
            assert!(ping.operations.contains(&0x03));
        }
    }
}

#[tokio::test]
async fn json_media_type_encodes_string_literals() {
    let server = server().await;
    let client = client(&server)
        .media_types(MediaType::ApplicationJson, MediaType::ApplicationJson)
        .build()
        .unwrap();
    client
        .put("p:k", r#"{"value":"a\"b"}"#, None)
        .await
        .unwrap();
    assert_eq!(
        server.stored("cache", br#""p:k""#).as_deref(),
        Some(&br#""{\"value\":\"a\\\"b\"}""#[..])
    );
    assert_eq!(
        client.get("p:k").await.unwrap().as_deref(),
        Some(r#"{"value":"a\"b"}"#)
    );
    let request = &server.requests()[1];
    assert_eq!(request.key_media_type.as_deref(), Some("application/json"));
}

#[tokio::test]
async fn unknown_cache_is_a_server_error_not_a_connection_failure() {
    let server = server().await;
    let client = client(&server).cache_name("nope").build().unwrap();
    let error = client.get("k").await.unwrap_err();
    assert!(
        matches!(error, HotRodError::Server { status: 0x84, ref message, .. } if message.contains("nope")),
        "{error:?}"
    );
    // The same client keeps working for the default cache of another client meanwhile, and
    // errors do not put the server into backoff.
    let default_cache = client_for_default(&server);
    default_cache.put("k", "v", None).await.unwrap();
    assert!(client.get("k").await.is_err());
}

fn client_for_default(server: &TestServer) -> HotRodClient {
    client(server).cache_name("").build().unwrap()
}

#[tokio::test]
async fn store_from_config_reads_the_block() {
    let server = server().await;
    let config = ConfigReader::from_value(json!({ "backend": { "cache": {
        "store": "infinispan",
        "infinispan": {
            "servers": [{ "host": "127.0.0.1", "port": server.port() }],
            "cacheName": "cache",
            "version": "2.9",
            "topologyUpdates": false
        }
    } } }));
    let store = InfinispanStore::from_config(&config).unwrap();
    store.set("p", "k", "{}".into(), None).await.unwrap();
    assert!(server.stored("cache", b"p:k").is_some());
    assert_eq!(server.requests()[0].intelligence, 1);
    // Without a block: defaults (127.0.0.1:11222), no connection at startup.
    let config =
        ConfigReader::from_value(json!({ "backend": { "cache": { "store": "infinispan" } } }));
    assert!(InfinispanStore::from_config(&config).is_ok());
}

/// The crate's conformance suite (every store runs it) over the test server, through the
/// cache service: JSON values, null, TTLs, namespacing, long and unicode keys, envelopes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite() {
    let server = server().await;
    let client = client(&server)
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    conformance::conformance(|| {
        Arc::new(InfinispanStore::new(client.clone())) as Arc<dyn CacheStore>
    })
    .await;
}

/// Through the cache service, an outage is a miss and a no-op, never an error or a hang, and the
/// cache works again when the server is back.
#[tokio::test]
async fn service_misses_while_the_server_is_down() {
    let mut server = server().await;
    let store = Arc::new(InfinispanStore::new(client(&server).build().unwrap()));
    let manager = backstage_cache::CacheManager::builder()
        .store(store as Arc<dyn CacheStore>)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let cache = manager.for_plugin("catalog");
    cache.set("k", json!({ "x": 1 }).into(), None).await;
    assert_eq!(cache.get("k").await.as_deref(), Some(&json!({ "x": 1 })));
    // Backstage's layout: `catalog:<base64 key>` → `{"value":…}`.
    assert_eq!(
        server.stored("cache", b"catalog:aw==").as_deref(),
        Some(&br#"{"value":{"x":1}}"#[..])
    );
    server.stop();
    let started = Instant::now();
    assert_eq!(cache.get("k").await, None);
    cache.set("k", json!(2).into(), None).await;
    cache.delete("k").await;
    assert!(started.elapsed() < Duration::from_secs(5));
    server.restart().await.unwrap();
    let start = Instant::now();
    while cache.get("k").await.is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the cache recovers"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// -------------------------------------------------------------------------------------------
// Authentication and TLS
// -------------------------------------------------------------------------------------------

fn auth_server(mechanisms: &[&str]) -> TestAuth {
    TestAuth {
        mechanisms: mechanisms.iter().map(|m| (*m).to_owned()).collect(),
        users: vec![("admin".to_owned(), "s3cr3t,=pw".to_owned())],
    }
}

fn credentials(password: &str) -> Credentials {
    Credentials {
        user_name: "admin".into(),
        password: password.into(),
        ..Credentials::default()
    }
}

#[tokio::test]
async fn sasl_plain_and_scram_succeed() {
    let server = TestServer::builder()
        .auth(auth_server(&[
            "PLAIN",
            "SCRAM-SHA-1",
            "SCRAM-SHA-256",
            "SCRAM-SHA-384",
            "SCRAM-SHA-512",
        ]))
        .start()
        .await
        .unwrap();
    for mechanism in [
        SaslMechanism::Plain,
        SaslMechanism::ScramSha1,
        SaslMechanism::ScramSha256,
        SaslMechanism::ScramSha384,
        SaslMechanism::ScramSha512,
    ] {
        server.clear_requests();
        let client = client(&server)
            .authentication(mechanism, credentials("s3cr3t,=pw"))
            .timeout(SCRAM_TIMEOUT)
            .build()
            .unwrap();
        client.put("k", mechanism.name(), None).await.unwrap();
        assert_eq!(
            client.get("k").await.unwrap().as_deref(),
            Some(mechanism.name())
        );
        let ops: Vec<u8> = server.requests().iter().map(|r| r.opcode).collect();
        let auth_rounds = if mechanism == SaslMechanism::Plain {
            1
        } else {
            2
        };
        let mut expected = vec![0x21];
        expected.extend(std::iter::repeat_n(0x23, auth_rounds));
        expected.extend([0x01, 0x03]);
        assert_eq!(
            ops, expected,
            "{mechanism}: AUTH_MECH_LIST, AUTH…, PUT, GET on one connection"
        );
    }
}

#[tokio::test]
async fn sasl_failures_are_errors() {
    let server = TestServer::builder()
        .auth(auth_server(&["PLAIN", "SCRAM-SHA-256"]))
        .start()
        .await
        .unwrap();
    for mechanism in [SaslMechanism::Plain, SaslMechanism::ScramSha256] {
        let client = client(&server)
            .authentication(mechanism, credentials("wrong"))
            .timeout(SCRAM_TIMEOUT)
            .build()
            .unwrap();
        let error = client.get("k").await.unwrap_err();
        let HotRodError::Unavailable {
            last: Some(last), ..
        } = &error
        else {
            panic!("{error:?}");
        };
        assert!(matches!(**last, HotRodError::Auth { .. }), "{last:?}");
        assert!(
            !error.to_string().contains("wrong"),
            "no password in errors"
        );
    }
    // A mechanism the server does not offer.
    let client = client(&server)
        .authentication(SaslMechanism::ScramSha512, credentials("s3cr3t,=pw"))
        .timeout(SCRAM_TIMEOUT)
        .build()
        .unwrap();
    let error = format!("{:?}", client.get("k").await.unwrap_err());
    assert!(error.contains("SCRAM-SHA-512"), "{error}");
    // No credentials at all: the server refuses the operation.
    let anonymous = client_for_default(&server);
    assert!(matches!(
        anonymous.get("k").await.unwrap_err(),
        HotRodError::Server { status: 0x85, .. }
    ));
}

struct Pki {
    cert: CertificateDer<'static>,
    cert_pem: String,
    key_der: Vec<u8>,
    key_pem: String,
}

fn self_signed() -> Pki {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    Pki {
        cert: certified.cert.der().clone(),
        cert_pem: certified.cert.pem(),
        key_der: certified.signing_key.serialize_der(),
        key_pem: certified.signing_key.serialize_pem(),
    }
}

fn ring() -> Arc<tokio_rustls::rustls::crypto::CryptoProvider> {
    Arc::new(tokio_rustls::rustls::crypto::ring::default_provider())
}

fn tls_server_config(pki: &Pki) -> Arc<ServerConfig> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone()));
    Arc::new(
        ServerConfig::builder_with_provider(ring())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![pki.cert.clone()], key)
            .unwrap(),
    )
}

#[tokio::test]
async fn tls_with_a_self_signed_certificate() {
    let pki = self_signed();
    let server = TestServer::builder()
        .tls(tls_server_config(&pki))
        .auth(auth_server(&["SCRAM-SHA-256"]))
        .start()
        .await
        .unwrap();
    // CA from a PEM file, as `ssl.trustCerts` gives it.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.cert_pem).unwrap();
    let tls = TlsOptions {
        trust_certs: vec![ca],
        ..TlsOptions::default()
    };
    let client = client(&server)
        .tls(tls.clone())
        .authentication(SaslMechanism::ScramSha256, credentials("s3cr3t,=pw"))
        .timeout(SCRAM_TIMEOUT)
        .build()
        .unwrap();
    client.put("k", "over tls", None).await.unwrap();
    assert_eq!(client.get("k").await.unwrap().as_deref(), Some("over tls"));
    // SNI name instead of the IP address.
    let by_name = client_builder_with_sni(&server, tls.clone());
    assert_eq!(by_name.get("k").await.unwrap().as_deref(), Some("over tls"));
    // An untrusted certificate fails the handshake; plain TCP gets nothing sensible either.
    let other = self_signed();
    let mut roots = RootCertStore::empty();
    roots.add(other.cert.clone()).unwrap();
    let untrusted = ClientConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let client = client_for_tls(&server, Arc::new(untrusted));
    let error = client.get("k").await.unwrap_err();
    assert!(format!("{error:?}").contains("Connect"), "{error:?}");
    let plain = client_for_default(&server);
    assert!(plain.get("k").await.is_err());
    // A missing CA file is a startup error.
    let missing = TlsOptions {
        trust_certs: vec![dir.path().join("missing.pem")],
        ..TlsOptions::default()
    };
    assert!(matches!(
        HotRodClient::builder().tls(missing).build(),
        Err(HotRodError::Config { .. })
    ));
}

fn client_builder_with_sni(server: &TestServer, mut tls: TlsOptions) -> HotRodClient {
    tls.sni_host_name = Some("localhost".into());
    client(server)
        .tls(tls)
        .authentication(SaslMechanism::ScramSha256, credentials("s3cr3t,=pw"))
        .timeout(SCRAM_TIMEOUT)
        .build()
        .unwrap()
}

fn client_for_tls(server: &TestServer, config: Arc<ClientConfig>) -> HotRodClient {
    client(server)
        .tls_config(config)
        .authentication(SaslMechanism::ScramSha256, credentials("s3cr3t,=pw"))
        .timeout(SCRAM_TIMEOUT)
        .max_retries(0)
        .build()
        .unwrap()
}

// -------------------------------------------------------------------------------------------
// Failures: failover, cut connections, hangs, hostile replies
// -------------------------------------------------------------------------------------------

/// Retries `f` until it succeeds, for at most `limit`.
async fn eventually<T, E, F, Fut>(limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Debug,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(value) => return value,
            Err(e) if start.elapsed() < limit => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("still failing after {limit:?}: {e:?}"),
        }
    }
}

#[tokio::test]
async fn failover_to_the_next_server_and_back() {
    let mut a = server().await;
    let b = server().await;
    let client = HotRodClient::builder()
        .server("127.0.0.1", a.port())
        .server("127.0.0.1", b.port())
        .timeout(Duration::from_millis(800))
        .build()
        .unwrap();
    client.put("k", "on a", None).await.unwrap();
    assert!(a.stored("cache", b"k").is_some());
    assert!(b.is_empty("cache"));

    a.stop();
    // The very next operation fails over within its time budget.
    client.put("k", "on b", None).await.unwrap();
    assert_eq!(client.get("k").await.unwrap().as_deref(), Some("on b"));
    assert!(b.stored("cache", b"k").is_some());

    // When a is back, the client returns to it once its backoff has passed.
    a.restart().await.unwrap();
    eventually(Duration::from_secs(5), || async {
        client.put("back", "on a", None).await?;
        if a.stored("cache", b"back").is_some() {
            Ok(())
        } else {
            Err(HotRodError::Closed)
        }
    })
    .await;
}

#[tokio::test]
async fn cut_connections_are_retried_and_a_dead_server_fails_fast() {
    let mut server = server().await;
    let store = InfinispanStore::new(client(&server).build().unwrap());
    store.set("p", "k", "v".into(), None).await.unwrap();

    // Live connections cut: the pooled connection is stale, a fresh one is used, no error.
    server.cut_connections();
    assert_eq!(store.get("p", "k").await.unwrap().as_deref(), Some("v"));

    // Server gone: errors (a miss / no-op one level up) within the timeout, no panic.
    server.stop();
    for _ in 0..3 {
        let started = Instant::now();
        assert!(store.get("p", "k").await.is_err());
        assert!(store.set("p", "k", "w".into(), None).await.is_err());
        assert!(store.delete("p", "k").await.is_err());
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "bounded by the timeout"
        );
    }

    // Back: recovers by itself.
    server.restart().await.unwrap();
    let value = eventually(Duration::from_secs(5), || store.get("p", "k")).await;
    assert_eq!(value.as_deref(), Some("v"));
}

#[tokio::test]
async fn a_connection_cut_mid_request_is_an_error_then_recovers() {
    let server = server().await;
    let client = client(&server).max_retries(0).build().unwrap();
    client.put("k", "v", None).await.unwrap();
    server.set_hang(true);
    let started = Instant::now();
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.get("k").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.cut_connections();
    let result = pending.await.unwrap();
    assert!(result.is_err(), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    server.set_hang(false);
    let value = eventually(Duration::from_secs(5), || client.get("k")).await;
    assert_eq!(value.as_deref(), Some("v"));
}

#[tokio::test]
async fn a_hanging_server_times_out() {
    let server = server().await;
    let client = client(&server)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    client.put("k", "v", None).await.unwrap();
    server.set_hang(true);
    let started = Instant::now();
    let error = client.get("k").await.unwrap_err();
    assert!(matches!(error, HotRodError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // During the backoff that follows (100 ms, doubling per failure), operations fail at once
    // without touching the server; retry a few times in case a slow machine let it lapse.
    let mut refused_at_once = false;
    for _ in 0..5 {
        if let HotRodError::Unavailable { last: None, .. } = client.get("k").await.unwrap_err() {
            refused_at_once = true;
            break;
        }
    }
    assert!(refused_at_once, "a server in backoff is skipped");
    server.set_hang(false);
    let value = eventually(Duration::from_secs(5), || client.get("k")).await;
    assert_eq!(value.as_deref(), Some("v"));

    // A server that accepts connections but never speaks.
    let (addr, hole) = black_hole().await.unwrap();
    let silent = HotRodClient::builder()
        .server("127.0.0.1", addr.port())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    assert!(matches!(
        silent.ping().await.unwrap_err(),
        HotRodError::Timeout { .. }
    ));
    hole.abort();
}

/// A fake server that answers every request with `reply` (after reading a little).
async fn hostile_server(reply: Vec<u8>) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = tcp.read(&mut buf).await {
                    if n == 0 || tcp.write_all(&reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, task)
}

#[tokio::test]
async fn hostile_replies_are_errors_never_panics() {
    let replies: Vec<Vec<u8>> = vec![
        b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(),
        // PING answer with a 4 GiB string where the media type should be.
        vec![
            0xA1, 0x01, 0x18, 0x00, 0x00, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F,
        ],
        // A topology with 2^20 members.
        vec![0xA1, 0x01, 0x18, 0x00, 0x01, 0x01, 0x80, 0x80, 0x40],
        // An endless vInt.
        vec![
            0xA1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ],
    ];
    for reply in replies {
        let (port, task) = hostile_server(reply.clone()).await;
        let client = HotRodClient::builder()
            .server("127.0.0.1", port)
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        let error = client.get("k").await.unwrap_err();
        let HotRodError::Unavailable {
            last: Some(last), ..
        } = &error
        else {
            panic!("{reply:x?}: {error:?}");
        };
        assert!(
            matches!(**last, HotRodError::Protocol { .. }),
            "{reply:x?}: {last:?}"
        );
        task.abort();
    }
}

// -------------------------------------------------------------------------------------------
// Topology
// -------------------------------------------------------------------------------------------

#[tokio::test]
async fn topology_updates_route_keys_to_their_owner() {
    let a = server().await;
    let b = server().await;
    let topology = TestTopology {
        id: 3,
        members: vec![
            ("127.0.0.1".to_owned(), a.port()),
            ("127.0.0.1".to_owned(), b.port()),
        ],
        num_segments: 16,
    };
    a.set_topology(Some(topology.clone()));
    b.set_topology(Some(topology.clone()));
    // Only a is configured; b is learnt from the topology.
    let routed = client(&a).build().unwrap();
    routed.ping().await.unwrap();
    assert_eq!(routed.topology().map(|t| t.id), Some(3));
    a.clear_requests();
    let keys: Vec<String> = (0..40).map(|i| format!("catalog:key-{i}")).collect();
    for key in &keys {
        routed.put(key, "v", None).await.unwrap();
    }
    let mut owners = [0, 0];
    for key in &keys {
        let owner = topology.primary_owner(key.as_bytes()).unwrap();
        owners[owner] += 1;
        let at = [&a, &b][owner];
        assert!(
            at.stored("cache", key.as_bytes()).is_some(),
            "{key} at member {owner}"
        );
    }
    assert!(
        owners[0] > 0 && owners[1] > 0,
        "both members own keys: {owners:?}"
    );
    // Later requests carry the topology id, so the server stops resending it.
    assert!(
        a.requests()
            .iter()
            .all(|r| r.topology_id == 3 && r.intelligence == 3)
    );

    // Without topology updates: intelligence 1, everything to the configured server.
    let basic = client(&a).topology_updates(false).build().unwrap();
    basic.put("catalog:key-0", "w", None).await.unwrap();
    assert!(basic.topology().is_none());
}

// -------------------------------------------------------------------------------------------
// Cross-check with the npm client
// -------------------------------------------------------------------------------------------

fn compat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat")
}

fn require_node() {
    let node = Command::new("node").arg("--version").output();
    assert!(
        matches!(&node, Ok(out) if out.status.success()),
        "Node.js is required for the npm cross-check: {SETUP_HINT}"
    );
    assert!(
        compat_dir()
            .join("node_modules/infinispan/lib/infinispan.js")
            .exists(),
        "the `infinispan` npm package is not installed in cache/tests/compat: {SETUP_HINT}"
    );
}

/// The `hotrod-test-server` binary, killed on drop.
struct ServerProcess {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<Value>>>,
}

impl ServerProcess {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hotrod-test-server"))
            .args(args)
            .arg("--log-requests")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("hotrod-test-server starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .expect("hotrod-test-server prints its address")
            .expect("readable stdout");
        let port = first
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(value);
                }
            }
        });
        Self { child, port, log }
    }

    fn requests(&self) -> Vec<Value> {
        self.log.lock().unwrap().clone()
    }

    fn clear_requests(&self) {
        self.log.lock().unwrap().clear();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the npm harness and returns its `RESULT` object.
fn node(spec: &Value) -> Value {
    let output = Command::new("node")
        .arg(compat_dir().join("hotrod.cjs"))
        .arg(spec.to_string())
        .current_dir(compat_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run node: {e}; {SETUP_HINT}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result = stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "no RESULT from node ({}):\n{stdout}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
        });
    serde_json::from_str(result).unwrap()
}

/// Requests of one opcode from the server log, by key (hex), without message and topology ids.
fn raw_by_key(requests: &[Value], opcode: u64) -> Vec<(String, String)> {
    requests
        .iter()
        .filter(|r| r["opcode"] == opcode)
        .map(|r| {
            (
                r["key"].as_str().unwrap_or_default().to_owned(),
                r["rawWithoutIds"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Our client configured the way Backstage configures the npm client by default.
fn backstage_like(port: u16) -> HotRodClient {
    HotRodClient::builder()
        .server("127.0.0.1", port)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn npm_client_agrees_with_the_test_server_and_our_client() {
    require_node();
    let process = ServerProcess::start(&[]);
    let ours = backstage_like(process.port);
    let keys = json!({
        "fromRust": "catalog:cnVzdA==",
        "plain": "catalog:cGxhaW4=",
        "withTtl": "catalog:dHRs",
        "short": "catalog:c2hvcnQ=",
        "doomed": "catalog:ZG9vbWVk",
        "unicode": "catalog:dW5pY29kZQ==",
    });
    let values = json!({
        "plain": r#"{"value":{"x":1}}"#,
        "withTtl": r#"{"value":[1,2],"expires":1795249618237}"#,
        "unicode": r#"{"value":"::ünï©ødé 🚀"}"#,
    });
    ours.put("catalog:cnVzdA==", r#"{"value":"from rust"}"#, None)
        .await
        .unwrap();

    let spec = json!({ "port": process.port, "phase": "ops", "keys": keys, "values": values });
    let npm = tokio::task::spawn_blocking(move || node(&spec))
        .await
        .unwrap();
    assert_eq!(
        npm,
        json!({
            "ping": "ok",
            "fromRust": r#"{"value":"from rust"}"#,
            "plain": values["plain"],
            "shortBefore": values["plain"],
            "shortAfter": null,
            "removePresent": true,
            "removeMissing": false,
            "getRemoved": null,
            "unicode": values["unicode"],
        }),
        "what the npm client observed"
    );

    // Our client reads what the npm client wrote.
    for (key, value) in [
        ("plain", "plain"),
        ("withTtl", "withTtl"),
        ("unicode", "unicode"),
    ] {
        assert_eq!(
            ours.get(keys[key].as_str().unwrap())
                .await
                .unwrap()
                .as_deref(),
            values[value].as_str()
        );
    }

    // Byte for byte: our requests equal the npm client's for the same operations. Wait until
    // the log has caught up with the GETs of the unicode key (the npm client's last operation,
    // then ours) before separating our requests from the npm client's.
    let unicode_key = hex(keys["unicode"].as_str().unwrap().as_bytes());
    let npm_requests = wait_for_log(&process, |log| {
        log.iter()
            .filter(|r| r["opcode"] == 0x03 && r["key"] == unicode_key.as_str())
            .count()
            >= 2
    })
    .await;
    process.clear_requests();
    ours.ping().await.unwrap();
    ours.put(
        keys["plain"].as_str().unwrap(),
        values["plain"].as_str().unwrap(),
        None,
    )
    .await
    .unwrap();
    ours.put(
        keys["withTtl"].as_str().unwrap(),
        values["withTtl"].as_str().unwrap(),
        Some(Duration::from_millis(60_000)),
    )
    .await
    .unwrap();
    ours.put(
        keys["unicode"].as_str().unwrap(),
        values["unicode"].as_str().unwrap(),
        None,
    )
    .await
    .unwrap();
    ours.get(keys["plain"].as_str().unwrap()).await.unwrap();
    ours.remove(keys["doomed"].as_str().unwrap()).await.unwrap();
    // The REMOVE is last; wait until the log reader has seen it.
    let our_requests = wait_for_log(&process, |log| log.iter().any(|r| r["opcode"] == 0x0B)).await;
    for opcode in [0x01u64, 0x03, 0x0B, 0x17] {
        let theirs = raw_by_key(&npm_requests, opcode);
        let ours_of_op = raw_by_key(&our_requests, opcode);
        assert!(
            !ours_of_op.is_empty() && !theirs.is_empty(),
            "opcode {opcode:#04x} compared"
        );
        for (key, raw) in ours_of_op {
            assert!(
                theirs.iter().any(|(k, r)| *k == key && *r == raw),
                "opcode {opcode:#04x} key {key}: ours {raw} not among the npm client's {theirs:?}"
            );
        }
    }
    let withttl_key = hex(keys["withTtl"].as_str().unwrap().as_bytes());
    let ttl_put = npm_requests
        .iter()
        .find(|r| r["opcode"] == 1 && r["key"] == withttl_key.as_str())
        .unwrap();
    assert_eq!(
        (ttl_put["expiration"].clone(), ttl_put["lifespan"].clone()),
        (json!(0x17), json!(60_000))
    );

    // CLEAR from the npm client empties the cache for us too.
    let spec = json!({ "port": process.port, "phase": "clear", "keys": keys });
    let npm = tokio::task::spawn_blocking(move || node(&spec))
        .await
        .unwrap();
    assert_eq!(npm, json!({ "cleared": true, "afterClear": null }));
    assert_eq!(
        ours.get(keys["plain"].as_str().unwrap()).await.unwrap(),
        None
    );
}

async fn wait_for_log(process: &ServerProcess, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..200 {
        let requests = process.requests();
        if done(&requests) {
            return requests;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the server log never showed the expected requests: {:?}",
        process.requests()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn npm_client_authenticates_against_the_test_server() {
    require_node();
    let process = ServerProcess::start(&[
        "--user",
        "admin:s3cr3t",
        "--mechanisms",
        "PLAIN,SCRAM-SHA-256",
    ]);
    let port = process.port;
    let run = move |mechanism: &str, password: &str, key: &str| {
        let spec = json!({
            "port": port,
            "phase": "auth",
            "options": { "authentication": {
                "enabled": true, "saslMechanism": mechanism, "userName": "admin", "password": password
            } },
            "keys": { "key": key },
            "values": { "value": format!("via {mechanism}") },
        });
        node(&spec)
    };
    let (plain, scram, wrong) = tokio::task::spawn_blocking(move || {
        (
            run("PLAIN", "s3cr3t", "p:plain"),
            run("SCRAM-SHA-256", "s3cr3t", "p:scram"),
            run("SCRAM-SHA-256", "nope", "p:wrong"),
        )
    })
    .await
    .unwrap();
    assert_eq!(plain, json!({ "value": "via PLAIN" }));
    assert_eq!(scram, json!({ "value": "via SCRAM-SHA-256" }));
    assert!(wrong["error"].is_string(), "{wrong}");

    // Our client reads both with SCRAM.
    let ours = HotRodClient::builder()
        .server("127.0.0.1", process.port)
        .authentication(
            SaslMechanism::ScramSha256,
            Credentials {
                user_name: "admin".into(),
                password: "s3cr3t".into(),
                ..Credentials::default()
            },
        )
        .timeout(SCRAM_TIMEOUT)
        .build()
        .unwrap();
    assert_eq!(
        ours.get("p:plain").await.unwrap().as_deref(),
        Some("via PLAIN")
    );
    assert_eq!(
        ours.get("p:scram").await.unwrap().as_deref(),
        Some("via SCRAM-SHA-256")
    );
    assert_eq!(ours.get("p:wrong").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn npm_client_over_tls_with_topology_updates() {
    require_node();
    let pki = self_signed();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &pki.cert_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    let process = ServerProcess::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--topology-segments",
        "8",
    ]);
    let spec = json!({
        "port": process.port,
        "phase": "auth",
        "options": { "ssl": { "enabled": true, "trustCerts": [cert], "sniHostName": "localhost" } },
        "keys": { "key": "p:tls" },
        "values": { "value": "over tls" },
    });
    let npm = tokio::task::spawn_blocking(move || node(&spec))
        .await
        .unwrap();
    assert_eq!(npm, json!({ "value": "over tls" }));
    // The npm client parsed our topology block and sent its id back.
    wait_for_log(&process, |log| log.iter().any(|r| r["topologyId"] == 1)).await;

    let ours = HotRodClient::builder()
        .server("127.0.0.1", process.port)
        .tls(TlsOptions {
            trust_certs: vec![cert.clone()],
            ..TlsOptions::default()
        })
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    assert_eq!(
        ours.get("p:tls").await.unwrap().as_deref(),
        Some("over tls")
    );
    assert_eq!(
        ours.topology().map(|t| (t.id, t.servers.len())),
        Some((1, 1))
    );
}

#[tokio::test]
async fn murmur_hash_matches_the_npm_client() {
    require_node();
    let keys: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"a".to_vec(),
        b"catalog:aGVsbG8=".to_vec(),
        b"0123456789abcdef".to_vec(),
        b"0123456789abcdefX".to_vec(),
        (0u8..=255).collect(),
        vec![
            0x80, 0xFF, 0x7F, 0x00, 0x81, 0xC3, 0xBC, 0xFE, 0x80, 0x90, 0xA0, 0xB0, 0xC0,
        ],
        "ünï©ødé 🚀 plugin:key".as_bytes().to_vec(),
    ];
    let spec = json!({ "phase": "hash", "keys": keys.iter().map(|k| hex(k)).collect::<Vec<_>>() });
    let npm = tokio::task::spawn_blocking(move || node(&spec))
        .await
        .unwrap();
    let ours: Vec<i32> = keys.iter().map(|k| murmur_hash3(k)).collect();
    assert_eq!(npm["hashes"], json!(ours));
}

// -------------------------------------------------------------------------------------------
// A real server, when one is available
// -------------------------------------------------------------------------------------------

#[tokio::test]
async fn real_server_round_trips() {
    let Ok(url) = std::env::var("INFINISPAN_URL") else {
        eprintln!("INFINISPAN_URL is not set: no real Infinispan server (see cache/README.md)");
        return;
    };
    let (host, port) = url
        .trim_start_matches("hotrod://")
        .rsplit_once(':')
        .map(|(h, p)| (h.to_owned(), p.parse::<u16>().expect("INFINISPAN_URL port")))
        .unwrap_or((url.clone(), 11222));
    let mut builder = HotRodClient::builder()
        .server(host, port)
        .cache_name(std::env::var("INFINISPAN_CACHE").unwrap_or_else(|_| "cache".into()))
        .timeout(Duration::from_secs(5));
    if let Ok(user) = std::env::var("INFINISPAN_USER") {
        let mechanism =
            std::env::var("INFINISPAN_MECHANISM").unwrap_or_else(|_| "SCRAM-SHA-256".into());
        builder = builder.authentication(
            SaslMechanism::parse(&mechanism).expect("INFINISPAN_MECHANISM"),
            Credentials {
                user_name: user,
                password: std::env::var("INFINISPAN_PASSWORD").unwrap_or_default(),
                ..Credentials::default()
            },
        );
    }
    let client = builder.build().unwrap();
    client
        .ping()
        .await
        .unwrap_or_else(|e| panic!("INFINISPAN_URL={url} does not answer: {e:?}"));
    let store = InfinispanStore::new(client.clone());
    let plugin = format!("rust-test-{}", std::process::id());
    store
        .set(
            &plugin,
            "aGVsbG8=",
            r#"{"value":1}"#.into(),
            Some(Duration::from_millis(500)),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get(&plugin, "aGVsbG8=").await.unwrap().as_deref(),
        Some(r#"{"value":1}"#)
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        store.get(&plugin, "aGVsbG8=").await.unwrap(),
        None,
        "lifespan expired"
    );
    store.set(&plugin, "k", "v".into(), None).await.unwrap();
    store.delete(&plugin, "k").await.unwrap();
    assert_eq!(store.get(&plugin, "k").await.unwrap(), None);
}
