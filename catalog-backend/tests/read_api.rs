//! The read endpoints (spec 3.1-3.5, 3.7, 3.10, 3.11) through the router, answered from an
//! in-memory index fed with synthetic final-entity changes.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use backstage_backend_common::config::ConfigReader;
use backstage_catalog_backend::api::{self, CatalogContext};
use backstage_catalog_backend::index::EntityIndex;
use backstage_catalog_backend::model::FinalEntityChange;
use backstage_catalog_backend::processing::Orchestrator;
use backstage_catalog_backend::storage::CatalogStore;
use backstage_database::{DatabaseManager, DatabaseService as _};
use base64::Engine as _;
use serde_json::{Value, json};
use tower::ServiceExt;

struct App {
    router: Router,
    _manager: DatabaseManager,
    index: Arc<EntityIndex>,
}

fn entity(kind: &str, name: &str, uid: &str, spec: Value, relations: Value) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": uid,
            "etag": format!("etag-{uid}"),
            "title": format!("The {name}"),
            "description": format!("{name} does things. {}", "Lorem ipsum dolor sit amet. ".repeat(3)),
            "annotations": {
                "backstage.io/managed-by-location": format!("url:https://example.com/{name}/catalog-info.yaml"),
                "backstage.io/managed-by-origin-location": "url:https://example.com/root.yaml",
            },
            "tags": if kind == "Component" { json!(["java", format!("T{}", name.len() % 3)]) } else { json!([]) },
        },
        "spec": spec,
        "relations": relations,
    })
}

fn change(value: &Value) -> FinalEntityChange {
    let kind = value["kind"].as_str().unwrap().to_lowercase();
    let name = value["metadata"]["name"].as_str().unwrap().to_lowercase();
    FinalEntityChange {
        seq: 0,
        uid: value["metadata"]["uid"].as_str().unwrap().to_owned(),
        entity_ref: format!("{kind}:default/{name}"),
        json: Some(value.to_string()),
    }
}

/// 20 components, 10 APIs, 5 groups, 5 users.
fn catalog() -> Vec<Value> {
    let mut out = Vec::new();
    let types = ["service", "website", "library"];
    for i in 0..20 {
        let owner = format!("group:default/team-{}", i % 5);
        out.push(entity(
            "Component",
            &format!("comp-{i:02}"),
            &format!("c-{:02}", (i * 7) % 20),
            json!({"type": types[i % 3], "lifecycle": "production", "owner": owner}),
            json!([{"type": "ownedBy", "targetRef": owner}]),
        ));
    }
    for i in 0..10 {
        out.push(entity(
            "API",
            &format!("api-{i:02}"),
            &format!("a-{i:02}"),
            json!({"type": if i % 2 == 0 { "openapi" } else { "grpc" }, "owner": "team-0"}),
            json!([]),
        ));
    }
    for i in 0..5 {
        out.push(entity(
            "Group",
            &format!("team-{i}"),
            &format!("g-{i}"),
            json!({"type": "team"}),
            json!([]),
        ));
        out.push(entity(
            "User",
            &format!("user-{i}"),
            &format!("u-{i}"),
            json!({"profile": {"displayName": format!("User Number {i}")}}),
            json!([{"type": "memberOf", "targetRef": format!("group:default/team-{i}")}]),
        ));
    }
    out
}

async fn app_with(entities: &[Value]) -> App {
    let manager = DatabaseManager::from_config(&ConfigReader::from_value(json!({}))).unwrap();
    let client = manager
        .for_plugin("catalog")
        .unwrap()
        .client()
        .await
        .unwrap();
    let store = CatalogStore::open(client).await.unwrap();
    let index = Arc::new(EntityIndex::new());
    let changes: Vec<FinalEntityChange> = entities.iter().map(change).collect();
    index.apply(&changes);
    let context = CatalogContext::new(
        Arc::clone(&index),
        Arc::new(store),
        Arc::new(Orchestrator::default()),
    );
    App {
        router: api::router(context),
        _manager: manager,
        index,
    }
}

async fn app() -> App {
    app_with(&catalog()).await
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }

    fn names(&self) -> Vec<String> {
        let value = self.json();
        let items = value.get("items").cloned().unwrap_or(value);
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["metadata"]["name"].as_str().unwrap().to_owned())
            .collect()
    }

    fn assert_error(&self, status: u16, name: &str, message: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}",
            String::from_utf8_lossy(&self.bytes)
        );
        let body = self.json();
        assert_eq!(body["error"]["name"], name);
        assert_eq!(body["error"]["message"], message);
        assert_eq!(body["response"]["statusCode"], status);
    }
}

async fn send(app: &App, method: Method, uri: &str, body: Option<Value>) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(value) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(value.to_string())
        }
        None => Body::empty(),
    };
    let response = app
        .router
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        headers,
        bytes,
    }
}

async fn get(app: &App, uri: &str) -> Reply {
    send(app, Method::GET, uri, None).await
}

async fn post(app: &App, uri: &str, body: Value) -> Reply {
    send(app, Method::POST, uri, Some(body)).await
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn get_entities_streams_stored_json_verbatim() {
    let app = app().await;
    let reply = get(&app, "/entities?filter=kind=component").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "application/json; charset=utf-8"
    );
    assert_eq!(reply.names().len(), 20);
    // The bytes of each entity are the stored text.
    let stored = app.index.get_by_ref("component:default/comp-03").unwrap();
    let needle = std::str::from_utf8(stored.json()).unwrap();
    assert!(String::from_utf8_lossy(&reply.bytes).contains(needle));

    // Unknown parameters are ignored; several filters are OR-ed.
    let reply = get(
        &app,
        "/entities?filter=kind=group&filter=kind=user&unknown=1",
    )
    .await;
    assert_eq!(reply.names().len(), 10);
    let reply = get(
        &app,
        "/entities?filter=kind%3Dcomponent%2Cspec.type%3Dservice",
    )
    .await;
    assert_eq!(reply.names().len(), 7);
    let reply = get(
        &app,
        "/entities?filter=relations.memberof=group:default/team-2",
    )
    .await;
    assert_eq!(reply.names(), ["user-2"]);
    let reply = get(&app, "/entities?filter=kind=nothing").await;
    assert_eq!(reply.bytes, b"[]");
}

#[tokio::test]
async fn get_entities_projects_and_orders() {
    let app = app().await;
    let reply = get(&app, "/entities?filter=kind=api&fields=metadata.name&fields=kind,metadata.annotations.backstage.io/managed-by-origin-location&order=desc:metadata.name").await;
    let body = reply.json();
    let items = body.as_array().unwrap();
    assert_eq!(items.len(), 10);
    assert_eq!(
        items[0],
        json!({
            "metadata": {"name": "api-09", "annotations": {"backstage.io/managed-by-origin-location": "url:https://example.com/root.yaml"}},
            "kind": "API",
        })
    );
    assert_eq!(items[9]["metadata"]["name"], "api-00");
    // Order keys are case-insensitive; entities without the key are left out when streaming.
    let reply = get(&app, "/entities?order=asc:spec.Profile.DisplayName").await;
    assert_eq!(
        reply.names(),
        ["user-0", "user-1", "user-2", "user-3", "user-4"]
    );
}

#[tokio::test]
async fn get_entities_paginates_with_link_headers() {
    let app = app().await;
    let first =
        "/entities?filter=kind=component&order=asc:metadata.name&limit=6&fields=metadata.name";
    let mut uri = first.to_owned();
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let reply = get(&app, &uri).await;
        assert_eq!(reply.status, StatusCode::OK);
        names.extend(reply.names());
        pages += 1;
        let Some(link) = reply.headers.get(header::LINK) else {
            break;
        };
        let link = link.to_str().unwrap();
        assert!(link.ends_with(">; rel=\"next\""), "{link}");
        assert!(link.starts_with("</entities?"), "{link}");
        assert!(!link.contains("offset="), "{link}");
        assert!(link.contains("fields=metadata.name"), "{link}");
        uri = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap()
            .to_owned();
    }
    assert_eq!(pages, 4);
    let expected: Vec<String> = (0..20).map(|i| format!("comp-{i:02}")).collect();
    assert_eq!(names, expected);

    // offset alone: no limit; nulls last with an order field; default order by ref.
    let reply = get(&app, "/entities?offset=35").await;
    assert_eq!(
        reply.names(),
        ["user-0", "user-1", "user-2", "user-3", "user-4"]
    );
    assert!(reply.headers.get(header::LINK).is_none());
    let reply = get(&app, "/entities?order=asc:spec.profile.displayname&limit=6").await;
    let names = reply.names();
    assert_eq!(
        &names[..5],
        ["user-0", "user-1", "user-2", "user-3", "user-4"]
    );
    assert_eq!(names.len(), 6);
    // The after cursor wins over limit and offset.
    let after = base64::engine::general_purpose::STANDARD.encode(r#"{"limit":2,"offset":30}"#);
    let reply = get(&app, &format!("/entities?limit=50&offset=0&after={after}")).await;
    assert_eq!(reply.names(), ["team-0", "team-1"]);
}

#[tokio::test]
async fn get_entities_errors() {
    let app = app().await;
    get(&app, "/entities?limit=0").await.assert_error(
        400,
        "InputError",
        "Invalid limit, must be greater than zero",
    );
    get(&app, "/entities?offset=-1").await.assert_error(
        400,
        "InputError",
        "Invalid offset, must be zero or greater",
    );
    get(&app, "/entities?limit=abc").await.assert_error(
        400,
        "InputError",
        "Invalid limit, not an integer",
    );
    get(&app, "/entities?order=up:x").await.assert_error(
        400,
        "InputError",
        "Invalid order parameter \"up:x\", expected \"<asc or desc>:<field name>\"",
    );
    get(&app, "/entities?filter=kind=a,%3Db").await.assert_error(
        400,
        "InputError",
        "Invalid filter, '=b' is not a valid statement (expected a string on the form a=b or a= or a)",
    );
    get(&app, "/entities?filter[kind]=a").await.assert_error(
        400,
        "InputError",
        "Invalid filter, not a string",
    );
    get(&app, "/entities?filter=").await.assert_error(
        400,
        "InputError",
        "Empty value found for query parameter 'filter'",
    );
    get(&app, "/entities?after=!!!").await.assert_error(
        400,
        "InputError",
        "Malformed after cursor, could not be parsed",
    );
    get(&app, "/entities?fields=metadata.tags[0]")
        .await
        .assert_error(
            400,
            "InputError",
            "Invalid field \"metadata.tags[0]\", array type fields are not supported",
        );
}

#[tokio::test]
async fn by_query_pages_forward_with_cursors_and_back() {
    let app = app().await;
    let reply = get(&app, "/entities/by-query?filter=kind=component&orderField=metadata.name,desc&limit=6&fields=metadata.name").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["totalItems"], 20);
    assert!(body["pageInfo"].get("prevCursor").is_none());
    let mut pages = vec![reply.names()];
    let mut cursor = body["pageInfo"]["nextCursor"].as_str().unwrap().to_owned();

    // A filtered GET stores the filter as a predicate under `query`, so clients continue
    // with POST.
    let decoded: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(&cursor)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(decoded["query"], json!({"kind": "component"}));
    assert_eq!(
        decoded["orderFields"],
        json!([{"field": "metadata.name", "order": "desc"}])
    );
    assert_eq!(decoded["totalItems"], 20);

    let mut last;
    loop {
        let reply = post(
            &app,
            "/entities/by-query",
            json!({"cursor": cursor, "limit": 6, "fields": ["metadata.name"]}),
        )
        .await;
        let body = reply.json();
        assert_eq!(body["totalItems"], 20);
        assert!(body["pageInfo"]["prevCursor"].is_string());
        pages.push(reply.names());
        last = body.clone();
        match body["pageInfo"]["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let mut expected: Vec<String> = (0..20).map(|i| format!("comp-{i:02}")).collect();
    expected.reverse();
    assert_eq!(pages.concat(), expected);
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [6, 6, 6, 2]);

    // Back to the first page through prevCursor (GET accepts the same cursors).
    let mut back = Vec::new();
    let mut prev = last["pageInfo"]["prevCursor"].as_str().map(str::to_owned);
    while let Some(cursor) = prev {
        let reply = get(
            &app,
            &format!(
                "/entities/by-query?limit=6&fields=metadata.name&cursor={}",
                urlencode(&cursor)
            ),
        )
        .await;
        let body = reply.json();
        assert!(body["pageInfo"]["nextCursor"].is_string());
        back.push(reply.names());
        prev = body["pageInfo"]["prevCursor"].as_str().map(str::to_owned);
    }
    back.reverse();
    assert_eq!(back, pages[..3]);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn by_query_counts_searches_and_validates() {
    let app = app().await;
    let reply = get(&app, "/entities/by-query?filter=kind=api&limit=0").await;
    assert_eq!(
        reply.json(),
        json!({"items": [], "totalItems": 10, "pageInfo": {}})
    );

    let reply = get(&app, "/entities/by-query?totalItems=exclude&limit=1").await;
    assert_eq!(reply.json()["totalItems"], 0);

    // Owner search as the UI does it.
    let reply = get(
        &app,
        "/entities/by-query?filter=kind=user,kind=group&fullTextFilterTerm=NUMBER%203&fullTextFilterFields=metadata.name,spec.profile.displayname&orderField=metadata.name,asc",
    )
    .await;
    assert_eq!(reply.names(), ["user-3"]);

    let reply = post(
        &app,
        "/entities/by-query",
        json!({
            "query": {"$all": [{"kind": "component"}, {"spec.type": {"$in": ["service", "library"]}}, {"$not": {"metadata.name": {"$hasPrefix": "comp-1"}}}]},
            "orderBy": [{"field": "metadata.name", "order": "asc"}],
            "fullTextFilter": {"term": "rVi", "fields": ["spec.type"]},
            "fields": ["metadata.name"],
        }),
    )
    .await;
    assert_eq!(reply.names(), ["comp-00", "comp-03", "comp-06", "comp-09"]);
    let body = reply.json();
    assert_eq!(body["items"][0], json!({"metadata": {"name": "comp-00"}}));
    assert_eq!(body["pageInfo"], json!({}));

    let reply = post(
        &app,
        "/entities/by-query",
        json!({"query": {"relations": {"$contains": {"type": "ownedBy", "targetRef": "group:default/team-1"}}}}),
    )
    .await;
    assert_eq!(
        sorted(reply.names()),
        ["comp-01", "comp-06", "comp-11", "comp-16"]
    );

    post(&app, "/entities/by-query", json!({"cursor": ""}))
        .await
        .assert_error(400, "InputError", "Cursor cannot be empty");
    let reply = post(&app, "/entities/by-query", json!({"cursor": "bm9wZQ=="})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Malformed cursor: ")
    );
    post(&app, "/entities/by-query", json!({"query": "kind"}))
        .await
        .assert_error(400, "InputError", "Query must be an object");
    let reply = send(&app, Method::POST, "/entities/by-query", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = app
        .router
        .clone()
        .oneshot(
            Request::post("/entities/by-query")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{oops"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    get(&app, "/entities/by-query?orderField=metadata.name,up")
        .await
        .assert_error(
            400,
            "InputError",
            "Invalid order field order, must be asc or desc",
        );
    let reply = get(&app, "/entities/by-query?cursor=%21%21").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn by_refs_preserves_order_and_nulls() {
    let app = app().await;
    let refs = json!([
        "api:default/api-01",
        "component:default/nope",
        "Component:default/comp-01",
        "component:default/comp-01"
    ]);
    let reply = post(
        &app,
        "/entities/by-refs",
        json!({"entityRefs": refs, "fields": ["metadata.name"]}),
    )
    .await;
    assert_eq!(
        reply.json(),
        json!({"items": [{"metadata": {"name": "api-01"}}, null, null, {"metadata": {"name": "comp-01"}}]})
    );
    let reply = post(
        &app,
        "/entities/by-refs?filter=kind=component",
        json!({"entityRefs": refs, "fields": ["kind"]}),
    )
    .await;
    assert_eq!(
        reply.json(),
        json!({"items": [null, null, null, {"kind": "Component"}]})
    );
    let reply = post(
        &app,
        "/entities/by-refs",
        json!({"entityRefs": refs, "query": {"kind": "api"}, "fields": ["kind"]}),
    )
    .await;
    assert_eq!(
        reply.json(),
        json!({"items": [{"kind": "API"}, null, null, null]})
    );
    // Verbatim bodies without fields.
    let reply = post(
        &app,
        "/entities/by-refs",
        json!({"entityRefs": ["api:default/api-01"]}),
    )
    .await;
    let stored = app.index.get_by_ref("api:default/api-01").unwrap();
    assert_eq!(
        reply.bytes,
        [b"{\"items\":[".as_slice(), stored.json(), b"]}"].concat()
    );
    let reply = post(&app, "/entities/by-refs", json!({"entityRefs": []})).await;
    assert_eq!(reply.json(), json!({"items": []}));
    let reply = post(&app, "/entities/by-refs", json!({"refs": []})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Malformed request body (did you remember to specify an application/json content type?), ")
    );
}

#[tokio::test]
async fn single_entity_lookups() {
    let app = app().await;
    let reply = get(&app, "/entities/by-uid/C-07").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["metadata"]["uid"], "c-07");
    get(&app, "/entities/by-uid/missing").await.assert_error(
        404,
        "NotFoundError",
        "No entity with uid missing",
    );

    let reply = get(&app, "/entities/by-name/Component/Default/COMP-05").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.bytes,
        app.index
            .get_by_ref("component:default/comp-05")
            .unwrap()
            .json()
            .to_vec()
    );
    get(&app, "/entities/by-name/Component/default/nope")
        .await
        .assert_error(
            404,
            "NotFoundError",
            "No entity named 'nope' found, with kind 'Component' in namespace 'default'",
        );
}

#[tokio::test]
async fn facets() {
    let app = app().await;
    let reply = get(&app, "/entity-facets?facet=spec.type&facet=Kind&facet=relations.ownedBy&facet=nothing&filter=kind=component").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "application/json; charset=utf-8"
    );
    let body = reply.json();
    assert_eq!(
        body["facets"]["spec.type"],
        json!([{"value": "library", "count": 6}, {"value": "service", "count": 7}, {"value": "website", "count": 7}])
    );
    assert_eq!(
        body["facets"]["Kind"],
        json!([{"value": "Component", "count": 20}])
    );
    assert_eq!(
        body["facets"]["relations.ownedBy"][0],
        json!({"value": "group:default/team-0", "count": 4})
    );
    assert_eq!(body["facets"]["nothing"], json!([]));
    let keys: Vec<&String> = body["facets"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["spec.type", "Kind", "relations.ownedBy", "nothing"]);

    let reply = get(&app, "/entity-facets?facet=metadata.tags").await;
    assert_eq!(
        reply.json()["facets"]["metadata.tags"],
        json!([{"value": "java", "count": 20}, {"value": "T1", "count": 20}])
    );

    let reply = post(
        &app,
        "/entity-facets",
        json!({"facets": ["kind", ""], "query": {"kind": {"$in": ["api", "group"]}}}),
    )
    .await;
    assert_eq!(
        reply.json(),
        json!({"facets": {"kind": [{"value": "API", "count": 10}, {"value": "Group", "count": 5}]}})
    );

    get(&app, "/entity-facets")
        .await
        .assert_error(400, "InputError", "Missing facet parameter");
    post(&app, "/entity-facets", json!({"facets": [""]}))
        .await
        .assert_error(400, "InputError", "Missing or empty facets parameter");
}

#[tokio::test]
async fn large_lists_are_streamed_intact() {
    let mut entities = catalog();
    for i in 0..400 {
        entities.push(entity(
            "Resource",
            &format!("bulk-{i:03}"),
            &format!("r-{i:03}"),
            json!({"type": "database", "notes": "x".repeat(500)}),
            json!([]),
        ));
    }
    let app = app_with(&entities).await;
    let reply = get(&app, "/entities?filter=kind=resource").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers.get(header::CONTENT_LENGTH).is_none());
    assert!(reply.bytes.len() > 300_000);
    let names = reply.names();
    assert_eq!(names.len(), 400);
    assert_eq!(sorted(names.clone()), names);
    let reply = get(&app, "/entities?filter=kind=resource&fields=metadata.uid").await;
    let body = reply.json();
    assert_eq!(body.as_array().unwrap().len(), 400);
    assert_eq!(body[0], json!({"metadata": {"uid": "r-000"}}));
}
