//! Hot paths of the read side: flattening, applying the change feed, filter queries, by-query
//! pages, facets, lookups and projection, on a synthetic catalog of 10,000 entities of about
//! 1.5 KB each.
//!
//! `cargo bench -p backstage-catalog-backend --bench index -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;

use backstage_catalog_backend::index::{EntityIndex, QueryRequest};
use backstage_catalog_backend::model::FinalEntityChange;
use backstage_catalog_backend::query::filter::parse_filter_params;
use backstage_catalog_backend::query::{Cursor, FieldSet, OrderDirection, OrderField};
use backstage_catalog_backend::search::flatten;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

const ENTITIES: usize = 10_000;

/// A realistic entity of about 1.5 KB: half components, a fifth APIs, the rest groups,
/// users, systems and resources.
fn entity(i: usize) -> Value {
    let (kind, spec_type) = match i % 10 {
        0..=4 => ("Component", ["service", "website", "library"][i % 3]),
        5 | 6 => ("API", ["openapi", "grpc", "asyncapi"][i % 3]),
        7 => ("Group", "team"),
        8 => ("User", "person"),
        _ => ("Resource", ["database", "s3-bucket"][i % 2]),
    };
    let name = format!("{}-{i:05}", kind.to_lowercase());
    let team = format!("group:default/team-{}", i % 50);
    let system = format!("system:default/system-{}", i % 40);
    let language = ["java", "go", "python", "typescript"][i % 4];
    let area = ["data", "web", "infra"][i % 3];
    let lifecycle = ["production", "experimental", "deprecated"][i % 3];
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {
            "namespace": "default",
            "annotations": {
                "backstage.io/managed-by-location": format!("url:https://github.com/acme/repo-{}/blob/main/catalog-info.yaml", i / 3),
                "backstage.io/managed-by-origin-location": "url:https://github.com/acme/catalog/blob/main/all.yaml",
                "backstage.io/source-location": format!("url:https://github.com/acme/repo-{}/tree/main/", i / 3),
                "github.com/project-slug": format!("acme/repo-{}", i / 3),
                "backstage.io/techdocs-ref": "dir:.",
            },
            "name": name,
            "title": format!("The {kind} Number {i}"),
            "description": format!("{kind} {i} handles part of the Acme platform: orders, invoices and the reporting that goes with them."),
            "tags": [language, area, "acme"],
            "links": [{"url": format!("https://dashboards.acme.test/{name}"), "title": "Dashboard", "icon": "dashboard"}],
            "uid": format!("{:08x}-4e2a-4c1b-9d7e-{:012x}", i * 2_654_435_761 % 4_294_967_291, i),
            "etag": format!("{:040x}", i * 97),
        },
        "spec": {
            "type": spec_type,
            "lifecycle": lifecycle,
            "owner": team,
            "system": system,
            "dependsOn": [format!("resource:default/resource-{:05}", (i * 7) % ENTITIES)],
            "providesApis": [format!("api-{:05}", (i * 3) % ENTITIES)],
        },
        "relations": [
            {"type": "ownedBy", "targetRef": team},
            {"type": "partOf", "targetRef": system},
            {"type": "dependsOn", "targetRef": format!("resource:default/resource-{:05}", (i * 7) % ENTITIES)},
            {"type": "providesApi", "targetRef": format!("api:default/api-{:05}", (i * 3) % ENTITIES)},
        ],
    })
}

fn change(i: usize) -> FinalEntityChange {
    let value = entity(i);
    let kind = value["kind"].as_str().unwrap_or_default().to_lowercase();
    let name = value["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    FinalEntityChange {
        seq: i64::try_from(i).unwrap_or_default(),
        uid: value["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        entity_ref: format!("{kind}:default/{name}"),
        json: Some(value.to_string()),
    }
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn build(changes: &[FinalEntityChange]) -> EntityIndex {
    let index = EntityIndex::new();
    for batch in changes.chunks(500) {
        index.apply(batch);
    }
    index
}

fn benches(c: &mut Criterion) {
    let changes: Vec<FinalEntityChange> = (0..ENTITIES).map(change).collect();
    let json_bytes: usize = changes
        .iter()
        .filter_map(|c| c.json.as_ref())
        .map(String::len)
        .sum();
    let before = rss_kib();
    let index = Arc::new(build(&changes));
    let after = rss_kib();
    let stats = index.stats();
    eprintln!(
        "index of {} entities: {} keys, {} entries, JSON {:.1} MiB (avg {} B), search structures ~{:.1} MiB, RSS growth {:?} KiB",
        stats.entities,
        stats.keys,
        stats.entries,
        stats.json_bytes as f64 / 1_048_576.0,
        json_bytes / ENTITIES,
        stats.search_bytes as f64 / 1_048_576.0,
        before.zip(after).map(|(b, a)| a.saturating_sub(b)),
    );

    let one = entity(1234);
    c.bench_function("flatten one entity", |b| {
        b.iter(|| flatten(black_box(&one)))
    });

    let mut group = c.benchmark_group("apply");
    group.sample_size(10);
    group.bench_function("10k entities in batches of 500", |b| {
        b.iter(|| build(black_box(&changes)))
    });
    group.finish();

    let mut seq = 0usize;
    c.bench_function("apply one update into 10k", |b| {
        b.iter(|| {
            seq += 1;
            let mut update = change(seq % ENTITIES);
            update.json = update
                .json
                .map(|j| j.replace("Dashboard", &format!("Dashboard {seq}")));
            index.apply(std::slice::from_ref(&update));
        })
    });

    let components = parse_filter_params(&["kind=component"]).ok().flatten();
    let services = parse_filter_params(&["kind=component,spec.type=service"])
        .ok()
        .flatten();
    let apis = parse_filter_params(&["kind=api"]).ok().flatten();
    // Warm the lazily built orders.
    let _ = index.list(None, None);

    c.bench_function("list kind=component (5k)", |b| {
        b.iter(|| index.list(black_box(components.as_ref()), None).len())
    });
    c.bench_function("list kind=component,spec.type=service", |b| {
        b.iter(|| index.list(black_box(services.as_ref()), None).len())
    });
    let by_name = OrderField::new("metadata.name", OrderDirection::Asc);
    c.bench_function("list kind=component order by name", |b| {
        b.iter(|| {
            index
                .list(black_box(components.as_ref()), Some(&by_name))
                .len()
        })
    });
    let request = QueryRequest {
        cursor: Cursor {
            query: apis.clone(),
            ..Cursor::default()
        },
        offset: 0,
        limit: 100,
        skip_total_items: false,
    };
    c.bench_function("by-query kind=api limit=100", |b| {
        b.iter(|| index.query(black_box(&request)).items.len())
    });
    let sorted_request = QueryRequest {
        cursor: Cursor {
            query: apis.clone(),
            order_fields: vec![by_name.clone()],
            ..Cursor::default()
        },
        ..request.clone()
    };
    let page = index.query(&sorted_request);
    let next = QueryRequest {
        cursor: page.next_cursor.unwrap_or_default(),
        ..sorted_request.clone()
    };
    c.bench_function("by-query kind=api by name, second page", |b| {
        b.iter(|| index.query(black_box(&next)).items.len())
    });
    c.bench_function("get_by_ref", |b| {
        b.iter(|| {
            index
                .get_by_ref(black_box("component:default/component-04321"))
                .is_some()
        })
    });
    let uid = changes[4321].uid.to_uppercase();
    c.bench_function("get_by_uid (case-insensitive)", |b| {
        b.iter(|| index.get_by_uid(black_box(&uid)).is_some())
    });
    c.bench_function("facets spec.type", |b| {
        b.iter(|| index.facets(black_box(&["spec.type"]), None))
    });
    c.bench_function("facets spec.type filtered kind=component", |b| {
        b.iter(|| index.facets(black_box(&["spec.type"]), components.as_ref()))
    });
    c.bench_function("facets relations.ownedBy + metadata.tags", |b| {
        b.iter(|| index.facets(black_box(&["relations.ownedby", "metadata.tags"]), None))
    });

    let fields = FieldSet::parse(&["metadata.name"]).ok().flatten();
    let text = changes[1234].json.clone().unwrap_or_default();
    if let Some(fields) = fields {
        c.bench_function("project metadata.name", |b| {
            b.iter(|| fields.project(black_box(text.as_bytes())))
        });
    }
}

criterion_group!(index_benches, benches);
criterion_main!(index_benches);
