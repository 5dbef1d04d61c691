//! The harness of the end-to-end tests: a database per test (SQLite file or PostgreSQL),
//! [`Catalog`] instances on it driven through their router, and polling helpers.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use backstage_catalog_backend::Catalog;
use backstage_core_plugin_api::ConfigReader;
use backstage_database::{DatabaseManager, DatabaseService as _};
use serde_json::{Value, json};
use sha1::{Digest as _, Sha1};
use tower::ServiceExt as _;

/// How long asynchronous processing may take before a test gives up.
pub const SETTLE: Duration = Duration::from_secs(20);

/// The database engine a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A SQLite file in a temporary directory (shared by every instance of the test).
    Sqlite,
    /// A fresh database on the PostgreSQL server at `POSTGRES_URL`.
    Postgres,
}

/// Generates one `#[tokio::test]` per engine, each calling the async scenario
/// `$name(Engine)`. A PostgreSQL server that is not configured or not reachable fails
/// the PostgreSQL test.
#[macro_export]
macro_rules! e2e {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t0 = std::time::Instant::now();
                super::$name($crate::e2e_support::Engine::Sqlite).await;
                eprintln!("{}::sqlite took {:?}", stringify!($name), t0.elapsed());
            }
            #[cfg(feature = "postgres")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let t0 = std::time::Instant::now();
                super::$name($crate::e2e_support::Engine::Postgres).await;
                eprintln!("{}::postgres took {:?}", stringify!($name), t0.elapsed());
            }
        }
    };
}

/// One test's database: every [`Instance`] opened on it sees the same tables.
pub struct Db {
    /// The engine.
    pub engine: Engine,
    /// The `backend.database` block.
    database: Value,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    /// A fresh, empty database.
    pub fn new(engine: Engine) -> Db {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let database = json!({
                    "client": "better-sqlite3",
                    "connection": {"directory": dir.path().to_str().unwrap()},
                });
                Db {
                    engine,
                    database,
                    _dir: Some(dir),
                }
            }
            Engine::Postgres => {
                let url = backstage_test_support::server_url("POSTGRES_URL");
                let prefix = format!("{}_", backstage_test_support::unique_name("e2e"));
                Db {
                    engine,
                    database: json!({"client": "pg", "connection": url, "prefix": prefix}),
                    _dir: None,
                }
            }
        }
    }

    /// A catalog built on this database with `catalog` as the `catalog` config block
    /// (relative `file` locations resolved against `base_dir`), not started.
    pub async fn build(&self, catalog: Value, base_dir: &Path) -> Instance {
        let config = ConfigReader::from_value(json!({
            "backend": {"database": self.database.clone()},
            "catalog": catalog,
        }));
        let manager = DatabaseManager::from_config(&config).unwrap();
        let client = manager
            .for_plugin("catalog")
            .unwrap()
            .client()
            .await
            .unwrap_or_else(|e| panic!("cannot open the {:?} database: {e}", self.engine));
        let catalog = Catalog::builder(&config, client)
            .base_dir(base_dir)
            // Orphan cleanup every second instead of 30 s keeps the `delete` scenario short.
            .orphan_cleanup_interval(Duration::from_secs(1))
            .build()
            .await
            .unwrap();
        let router = catalog.router();
        Instance {
            catalog,
            router,
            _manager: manager,
        }
    }

    /// [`Db::build`], then [`Catalog::start`].
    pub async fn start(&self, catalog: Value, base_dir: &Path) -> Instance {
        let instance = self.build(catalog, base_dir).await;
        instance.catalog.start().await.unwrap();
        instance
    }
}

/// An HTTP response.
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub bytes: Vec<u8>,
    /// What was asked, for messages.
    pub request: String,
}

impl Reply {
    /// The body as JSON (panics, naming the request, if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!(
                "{}: not JSON ({e}): {}",
                self.request,
                String::from_utf8_lossy(&self.bytes)
            )
        })
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{} answered {}: {}",
            self.request,
            self.status,
            String::from_utf8_lossy(&self.bytes)
        );
        self
    }

    /// Asserts an error reply: the status and the error envelope's name and message.
    #[track_caller]
    pub fn expect_error(&self, status: u16, name: &str, message: &str) {
        self.expect(status);
        let body = self.json();
        assert_eq!(body["error"]["name"], name, "{}: {body}", self.request);
        assert_eq!(
            body["error"]["message"], message,
            "{}: {body}",
            self.request
        );
        assert_eq!(
            body["response"]["statusCode"], status,
            "{}: {body}",
            self.request
        );
    }
}

/// A running (or just built) catalog and its router.
pub struct Instance {
    /// The catalog.
    pub catalog: Catalog,
    router: Router,
    _manager: DatabaseManager,
}

impl Instance {
    /// Sends a request to the router (paths as mounted under `/api/catalog`).
    pub async fn request(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        let mut request = Request::builder().method(method.clone()).uri(uri);
        let body = match body {
            Some(value) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            bytes,
            request: format!("{method} {uri}"),
        }
    }

    /// `GET uri`.
    pub async fn get(&self, uri: &str) -> Reply {
        self.request(Method::GET, uri, None).await
    }

    /// `POST uri` with a JSON body.
    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.request(Method::POST, uri, Some(body)).await
    }

    /// `DELETE uri`.
    pub async fn delete(&self, uri: &str) -> Reply {
        self.request(Method::DELETE, uri, None).await
    }

    /// Every entity (`GET /entities`).
    pub async fn all(&self) -> Vec<Value> {
        self.list("/entities").await
    }

    /// The entities of a `GET /entities…` request.
    pub async fn list(&self, uri: &str) -> Vec<Value> {
        let reply = self.get(uri).await;
        reply.expect(200);
        match reply.json() {
            Value::Array(items) => items,
            other => panic!("{uri}: expected an array, got {other}"),
        }
    }

    /// Every entity by ref.
    pub async fn by_ref(&self) -> BTreeMap<String, Value> {
        self.all()
            .await
            .into_iter()
            .map(|e| (entity_ref(&e), e))
            .collect()
    }

    /// The entity with this canonical ref (`GET /entities/by-name/…`), or `None` on 404.
    pub async fn entity(&self, entity_ref: &str) -> Option<Value> {
        let reply = self.get(&by_name_path(entity_ref)).await;
        match reply.status.as_u16() {
            200 => Some(reply.json()),
            404 => None,
            _ => {
                reply.expect(200);
                None
            }
        }
    }

    /// `POST /refresh {entityRef}`, expecting 200.
    pub async fn refresh(&self, entity_ref: &str) {
        self.post("/refresh", json!({ "entityRef": entity_ref }))
            .await
            .expect(200);
    }

    /// Waits until the entity exists and `check` accepts it; returns it.
    pub async fn wait_entity(
        &self,
        entity_ref: &str,
        what: impl Display,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        eventually(format!("{entity_ref}: {what}"), SETTLE, async || match self
            .entity(entity_ref)
            .await
        {
            Some(entity) if check(&entity) => Ok(entity),
            Some(entity) => Err(format!("it is {entity}")),
            None => Err("it does not exist".to_owned()),
        })
        .await
    }

    /// Waits until the entity exists; returns it.
    pub async fn wait_exists(&self, entity_ref: &str) -> Value {
        self.wait_entity(entity_ref, "exists", |_| true).await
    }

    /// Waits until every one of these refs exists.
    pub async fn wait_all(&self, refs: &[&str]) {
        for r in refs {
            self.wait_exists(r).await;
        }
    }

    /// Waits until the entity is gone (404).
    pub async fn wait_gone(&self, entity_ref: &str, timeout: Duration) {
        eventually(
            format!("{entity_ref} to disappear"),
            timeout,
            async || match self.entity(entity_ref).await {
                None => Ok(()),
                Some(entity) => Err(format!("it is still {entity}")),
            },
        )
        .await;
    }

    /// Waits until the set of entity refs is exactly `expected`; returns the entities.
    pub async fn wait_refs(&self, expected: &BTreeSet<String>) -> BTreeMap<String, Value> {
        eventually(
            format!("exactly {} entities", expected.len()),
            SETTLE,
            async || {
                let entities = self.by_ref().await;
                let refs: BTreeSet<String> = entities.keys().cloned().collect();
                if &refs == expected {
                    Ok(entities)
                } else {
                    Err(format!(
                        "{} entities; missing {:?}; unexpected {:?}",
                        refs.len(),
                        expected.difference(&refs).take(10).collect::<Vec<_>>(),
                        refs.difference(expected).take(10).collect::<Vec<_>>()
                    ))
                }
            },
        )
        .await
    }

    /// Stops the background work.
    pub async fn stop(self) {
        self.catalog.stop().await;
    }
}

/// Polls `check` (every 100 ms) until it returns `Ok`, failing the test with the last
/// `Err` after `timeout`.
pub async fn eventually<T>(
    what: impl Display,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) => {
                assert!(
                    Instant::now() < deadline,
                    "timed out after {timeout:?} waiting for {what}; last: {last}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The canonical ref of an entity document (namespace `default` when absent).
pub fn entity_ref(entity: &Value) -> String {
    let kind = entity["kind"].as_str().unwrap_or_default();
    let namespace = entity["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    let name = entity["metadata"]["name"].as_str().unwrap_or_default();
    format!("{kind}:{namespace}/{name}").to_lowercase()
}

/// `/entities/by-name/<kind>/<namespace>/<name>` of a canonical ref.
pub fn by_name_path(entity_ref: &str) -> String {
    let (kind, rest) = entity_ref.split_once(':').unwrap();
    let (namespace, name) = rest.split_once('/').unwrap();
    format!("/entities/by-name/{kind}/{namespace}/{name}")
}

/// The ref of the Location entity the catalog generates for a location
/// (`location:default/generated-<sha1 of "type:target">`, spec 3.0).
pub fn generated_location_ref(kind: &str, target: &str) -> String {
    let digest = Sha1::digest(format!("{kind}:{target}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("location:default/generated-{hex}")
}

/// An annotation of an entity.
pub fn annotation<'a>(entity: &'a Value, key: &str) -> Option<&'a str> {
    entity["metadata"]["annotations"][key].as_str()
}

/// The `status.items` of an entity (empty when there is no status).
pub fn status_items(entity: &Value) -> Vec<Value> {
    entity
        .pointer("/status/items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The `(type, targetRef)` pairs of an entity's relations.
pub fn relations(entity: &Value) -> BTreeSet<(String, String)> {
    entity["relations"]
        .as_array()
        .unwrap_or_else(|| panic!("no relations array in {entity}"))
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap().to_owned(),
                r["targetRef"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Writes `text` to `dir/name`, returning the absolute path.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A Component document.
pub fn component(name: &str, description: &str, owner: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  \
         description: {description}\nspec:\n  type: service\n  lifecycle: production\n  \
         owner: {owner}\n"
    )
}

/// YAML documents joined into one stream.
pub fn docs(documents: &[String]) -> String {
    documents.join("---\n")
}
