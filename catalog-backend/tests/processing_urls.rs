//! Processing `url` locations and placeholders against a local HTTP server: allowed and
//! refused hosts, ETag replay, redirects, GitHub-style integration URLs (spec 4.5, 4.6).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use backstage_catalog_backend::model::{
    ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION, LocationSpec,
};
use backstage_catalog_backend::processing::{
    HttpReaderLimits, HttpUrlReader, Orchestrator, OrchestratorOptions, ReadUrlOptions,
    ReadingAllowRule, ScmIntegrations, UrlReadError, UrlReader,
};
use backstage_core_plugin_api::ConfigReader;
use serde_json::{Value, json};

#[derive(Default)]
struct Counters {
    requests: AtomicUsize,
    not_modified: AtomicUsize,
}

/// Serves `tests/fixtures/processing/http/*` with ETags; `/raw/o/r/main/<file>` serves the
/// same files (the "raw host" of a GitHub-style integration); `/redirect/<target>` redirects
/// to the percent-decoded target.
struct TestServer {
    port: u16,
    counters: Arc<Counters>,
}

async fn serve(State(counters): State<Arc<Counters>>, uri: Uri, headers: HeaderMap) -> Response {
    counters.requests.fetch_add(1, Ordering::SeqCst);
    let path = uri.path();
    if let Some(target) = path.strip_prefix("/redirect/") {
        let target = percent_decode(target);
        return (StatusCode::FOUND, [(header::LOCATION, target)]).into_response();
    }
    let file = path
        .strip_prefix("/raw/o/r/main/")
        .unwrap_or(path.trim_start_matches('/'));
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/processing/http");
    if file.contains("..") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let Ok(body) = std::fs::read(dir.join(file)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!(
        "\"{}-{}\"",
        body.len(),
        body.iter().map(|b| u64::from(*b)).sum::<u64>()
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        counters.not_modified.fetch_add(1, Ordering::SeqCst);
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (StatusCode::OK, [(header::ETAG, etag)], body).into_response()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

async fn start_server() -> TestServer {
    let counters = Arc::new(Counters::default());
    let app = Router::new().fallback(serve).with_state(counters.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    TestServer { port, counters }
}

impl TestServer {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    fn requests(&self) -> usize {
        self.counters.requests.load(Ordering::SeqCst)
    }

    /// Reading allowed from `127.0.0.1:<port>`; `localhost:<port>` is a GitHub integration
    /// whose raw files are served by the same server.
    fn orchestrator(&self) -> Orchestrator {
        let config = ConfigReader::from_value(json!({
            "backend": {"reading": {"allow": [{"host": format!("127.0.0.1:{}", self.port)}]}},
            "integrations": {"github": [{
                "host": format!("localhost:{}", self.port),
                "rawBaseUrl": format!("http://127.0.0.1:{}/raw", self.port),
            }]},
        }));
        Orchestrator::new(
            OrchestratorOptions::from_config(&config).expect("config"),
            Vec::new(),
            None,
        )
    }
}

fn located(mut entity: Value, location: &str) -> Value {
    entity["metadata"]["annotations"] = json!({
        ANNOTATION_LOCATION: location,
        ANNOTATION_ORIGIN_LOCATION: location,
    });
    entity
}

fn not_allowed(url: &str) -> String {
    format!(
        "Reading from '{url}' is not allowed. You may need to configure an integration for the target host, or add it to the configured list of allowed hosts at 'backend.reading.allow'"
    )
}

#[tokio::test]
async fn url_location_with_placeholders_end_to_end() {
    let server = start_server().await;
    let o = server.orchestrator();
    let spec = LocationSpec::new("url", server.url("catalog-info.yaml"));
    let entities = o.dry_run_location(&spec).await.expect("dry run");
    assert_eq!(entities.len(), 3);
    let api = &entities[1];
    assert_eq!(api["metadata"]["name"], "remote-api");
    assert_eq!(api["metadata"]["description"], "A remote API.");
    assert_eq!(
        api["spec"]["definition"],
        "openapi: 3.0.0\ninfo:\n  title: Remote\n"
    );
    assert_eq!(
        api["spec"]["settings"],
        json!({"retries": 3, "hosts": ["a", "b"]})
    );
    assert_eq!(
        api["spec"]["extra"],
        json!({"tier": "gold", "regions": ["eu", "us"]})
    );
    assert_eq!(
        api["spec"]["schema"],
        json!({"$ref": "#/not/a/placeholder"})
    );
    // 127.0.0.1 is no SCM integration: a view URL, but no edit URL or source location.
    let annotations = api["metadata"]["annotations"]
        .as_object()
        .expect("annotations");
    assert_eq!(
        annotations["backstage.io/view-url"],
        server.url("catalog-info.yaml")
    );
    assert!(!annotations.contains_key("backstage.io/edit-url"));
    assert_eq!(entities[2]["metadata"]["name"], "remote-service");
}

#[tokio::test]
async fn placeholders_emit_refresh_keys() {
    let server = start_server().await;
    let o = server.orchestrator();
    let root = o
        .process(
            LocationSpec::new("url", server.url("catalog-info.yaml")).to_root_location_entity(),
            Value::Null,
        )
        .await;
    assert!(root.ok, "{:?}", root.errors);
    assert_eq!(
        root.refresh_keys,
        [format!("url:{}", server.url("catalog-info.yaml"))]
    );
    let api = root.children[0].entity.clone();
    let out = o.process(api, Value::Null).await;
    assert!(out.ok, "{:?}", out.errors);
    let mut expected: Vec<String> = [
        "description.txt",
        "extra.yaml",
        "openapi.yaml",
        "settings.json",
    ]
    .iter()
    .map(|f| format!("url:{}", server.url(f)))
    .collect();
    expected.sort();
    assert_eq!(out.refresh_keys, expected);
    let relations = o
        .process(root.children[1].entity.clone(), Value::Null)
        .await
        .relations;
    assert!(
        relations
            .iter()
            .any(|r| r.source_ref == "component:default/remote-service"
                && r.relation_type == "providesApi"
                && r.target_ref == "api:default/remote-api")
    );
}

#[tokio::test]
async fn disallowed_hosts_are_refused_with_the_full_message() {
    let server = start_server().await;
    let o = server.orchestrator();
    let other = format!("http://127.0.0.2:{}/description.txt", server.port);
    let entity = located(
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "c"},
               "spec": {"type": "service", "lifecycle": "production", "owner": "me", "notes": {"$text": other}}}),
        &format!("url:{}", server.url("c.yaml")),
    );
    let out = o.process(entity, Value::Null).await;
    assert!(!out.ok);
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].name, "InputError");
    assert_eq!(
        out.errors[0].message,
        format!(
            "Processor PlaceholderProcessor threw an error while preprocessing; caused by Error: Placeholder $text could not read location {other}, NotAllowedError: {}",
            not_allowed(&other)
        )
    );

    // A url location on a host that is not allowed.
    let spec = LocationSpec::new("url", other.clone());
    let out = o.process(spec.to_root_location_entity(), Value::Null).await;
    assert_eq!(out.errors[0].name, "Error");
    assert_eq!(
        out.errors[0].message,
        format!(
            "Unable to read url, NotAllowedError: {}",
            not_allowed(&other)
        )
    );
    assert_eq!(server.requests(), 0, "nothing was fetched");

    // A missing file on an allowed host.
    let missing = server.url("missing.yaml");
    let out = o
        .process(
            LocationSpec::new("url", &missing).to_root_location_entity(),
            Value::Null,
        )
        .await;
    assert_eq!(out.errors[0].name, "NotFoundError");
    assert_eq!(
        out.errors[0].message,
        format!("Unable to read url, NotFoundError: could not read {missing}, 404 Not Found")
    );
}

#[tokio::test]
async fn etag_replays_cached_entities_on_not_modified() {
    let server = start_server().await;
    let o = server.orchestrator();
    let entity =
        LocationSpec::new("url", server.url("catalog-info.yaml")).to_root_location_entity();
    let first = o.process(entity.clone(), Value::Null).await;
    assert!(first.ok, "{:?}", first.errors);
    assert_eq!(first.children.len(), 2);
    let target = server.url("catalog-info.yaml");
    let etag = first.cache["url-reader"][&target]["v1"]["etag"].clone();
    assert!(etag.is_string(), "{}", first.cache);
    assert_eq!(
        first.cache["url-reader"][&target]["v1"]["value"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // The engine hands the state back (with its TTL counter beside it).
    let mut state = first.cache.clone();
    state["ttl"] = json!(5);
    let second = o.process(entity.clone(), state).await;
    assert!(second.ok, "{:?}", second.errors);
    assert_eq!(server.counters.not_modified.load(Ordering::SeqCst), 1);
    assert_eq!(second.children, first.children, "replayed from the cache");
    assert_eq!(second.cache, first.cache, "the state is kept");
    assert_eq!(second.refresh_keys, first.refresh_keys);

    // Without the cache the file is read again.
    let third = o.process(entity, Value::Null).await;
    assert_eq!(third.children, first.children);
    assert_eq!(server.counters.not_modified.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn integration_blob_urls_are_read_from_the_raw_host_within_one_repository() {
    let server = start_server().await;
    let o = server.orchestrator();
    let blob = format!(
        "http://localhost:{}/o/r/blob/main/catalog-info.yaml",
        server.port
    );
    let entity = located(
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "c"},
               "spec": {"type": "service", "lifecycle": "production", "owner": "me",
                        "notes": {"$text": "./description.txt"}}}),
        &format!("url:{blob}"),
    );
    let out = o.process(entity.clone(), Value::Null).await;
    assert!(out.ok, "{:?}", out.errors);
    let e = out.entity.expect("entity");
    assert_eq!(e["spec"]["notes"], "A remote API.");
    assert_eq!(
        out.refresh_keys,
        [format!(
            "url:http://localhost:{}/o/r/blob/main/description.txt",
            server.port
        )]
    );
    let annotations = &e["metadata"]["annotations"];
    assert_eq!(
        annotations["backstage.io/edit-url"],
        format!(
            "http://localhost:{}/o/r/edit/main/catalog-info.yaml",
            server.port
        )
    );
    assert_eq!(
        annotations["backstage.io/source-location"],
        format!("url:http://localhost:{}/o/r/blob/main/", server.port)
    );

    let mut other_repo = entity;
    other_repo["spec"]["notes"] = json!({"$text": format!("http://localhost:{}/o/other/blob/main/description.txt", server.port)});
    let out = o.process(other_repo, Value::Null).await;
    assert_eq!(
        out.errors[0].message,
        "Processor PlaceholderProcessor threw an error while preprocessing; caused by Error: Placeholder may only reference files from the same repository as the entity"
    );
}

#[tokio::test]
async fn redirects_are_followed_only_to_allowed_hosts_and_bodies_are_bounded() {
    let server = start_server().await;
    let reader = HttpUrlReader::new(
        ScmIntegrations::new(Vec::new()),
        vec![ReadingAllowRule::host(format!("127.0.0.1:{}", server.port))],
    );
    let inside = server.url(&format!(
        "redirect/{}",
        server
            .url("description.txt")
            .replace(':', "%3A")
            .replace('/', "%2F")
    ));
    let response = reader
        .read_url(&inside, ReadUrlOptions::default())
        .await
        .expect("followed");
    assert_eq!(&response.body[..], b"A remote API.");
    assert!(response.etag.is_some());

    let outside_target = format!("http://127.0.0.2:{}/description.txt", server.port);
    let outside = server.url(&format!(
        "redirect/{}",
        outside_target.replace(':', "%3A").replace('/', "%2F")
    ));
    let error = reader
        .read_url(&outside, ReadUrlOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error, UrlReadError::NotAllowed(not_allowed(&outside)));

    let small = HttpUrlReader::with_limits(
        ScmIntegrations::new(Vec::new()),
        vec![ReadingAllowRule::host(format!("127.0.0.1:{}", server.port))],
        HttpReaderLimits::default().max_body_bytes(8),
    );
    let error = small
        .read_url(&server.url("description.txt"), ReadUrlOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.name(), "Error");
    assert!(error.message().contains("larger than 8 bytes"), "{error}");

    let etag = response.etag.clone();
    let error = reader
        .read_url(
            &server.url("description.txt"),
            ReadUrlOptions::with_etag(etag),
        )
        .await
        .unwrap_err();
    assert_eq!(error, UrlReadError::NotModified);
}
