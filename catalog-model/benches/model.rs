//! Criterion benchmarks of the catalog model's hot paths: entity refs, the validation
//! pipeline, YAML loading and relation emission. See `benches/README.md`.
//!
//! Run with `cargo bench -p backstage-catalog-model --bench model`. The typical Component is
//! shared with the Node.js comparison (`benches/node/validate-bench.cjs`) through
//! `benches/data/typical-component.json`.
//!
//! Setup never panics on the shipped data: every fixture is checked once and a mismatch is
//! reported on stderr instead, so `cargo test --benches` / `clippy --all-targets` runs are
//! safe.

#![allow(missing_docs)] // criterion_group! / criterion_main! generate undocumented items.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use backstage_catalog_model::yaml::parse_entity_documents;
use backstage_catalog_model::{
    CompoundEntityRef, EntityValidator, RefContext, parse_entity_ref, parse_entity_ref_view,
    relations, stringify_entity_ref,
};
use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

/// The typical Component, shared with the Node.js benchmark.
const TYPICAL_COMPONENT: &str = include_str!("data/typical-component.json");

/// The refs parsed per iteration of `entity_ref/parse` (same list as the Node script).
const REFS: [&str; 4] = [
    "component:default/my-svc",
    "team-a",
    "api:ns1/petstore-api",
    "component:platform-engineering-shared-services/customer-identity-and-access-management-gateway-v2",
];

/// Number of documents in the generated catalog file.
const YAML_DOCS: usize = 1_000;

fn typical_component() -> Value {
    serde_json::from_str(TYPICAL_COMPONENT).unwrap_or_else(|e| {
        eprintln!("benches/data/typical-component.json is not valid JSON: {e}");
        Value::Null
    })
}

fn typical_group() -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Group",
        "metadata": {
            "name": "team-payments",
            "namespace": "payments",
            "title": "Payments Team",
            "description": "Owns checkout, billing and the Petstore service.",
            "annotations": { "github.com/team-slug": "acme/team-payments" },
            "tags": ["payments"]
        },
        "spec": {
            "type": "team",
            "profile": {
                "displayName": "Payments",
                "email": "payments@example.com",
                "picture": "https://example.com/groups/payments.png"
            },
            "parent": "group:default/engineering",
            "children": ["payments-backend", "payments-frontend"],
            "members": ["alice", "bob", "user:default/carol", "dave"]
        }
    })
}

/// An entity with exactly three problems: a bad name, a bad label value and a missing
/// `spec.lifecycle`.
fn invalid_component() -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": "bad name!",
            "namespace": "payments",
            "labels": { "tier": "not a valid label value" }
        },
        "spec": { "type": "service", "owner": "team-a" }
    })
}

fn component_doc(out: &mut String, i: usize) {
    let ns = i % 7;
    let _ = write!(
        out,
        r#"# Service {i}, generated for the benchmark
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: svc-{i}
  namespace: ns-{ns}
  title: Service {i}
  description: >
    Handles requests for business area {i}. The description is folded
    over two lines, as real catalog files often do.
  labels:
    tier: backend
    cost-center: cc-{cc}
  annotations:
    backstage.io/techdocs-ref: dir:.
    github.com/project-slug: acme/svc-{i}
    backstage.io/source-location: url:https://github.com/acme/svc-{i}/tree/main/
    pagerduty.com/service-id: "P{i:06}"
  tags:
    - java
    - service
    - tier-{tier}
  links:
    - url: https://dashboard.example.com/svc-{i}
      title: Dashboard
      icon: dashboard
    - url: https://runbooks.example.com/svc-{i}
      title: Runbook
      type: runbook
spec:
  type: service
  lifecycle: production
  owner: group:default/team-{team}
  system: system-{system}
  providesApis:
    - api-{i}
  consumesApis:
    - api:default/api-{next}
    - api-{next2}
  dependsOn:
    - resource:ns-{ns}/db-{i}
    - component:default/svc-{next}
"#,
        cc = i % 50,
        tier = i % 3,
        team = i % 20,
        system = i % 10,
        next = i + 1,
        next2 = i + 2,
    );
}

fn api_doc(out: &mut String, i: usize) {
    let _ = write!(
        out,
        r#"# API {i}
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: api-{i}
  title: API {i}
  description: The REST API of service {i}.
  annotations:
    backstage.io/techdocs-ref: dir:.
  tags: [rest, openapi]
spec:
  type: openapi
  lifecycle: production
  owner: team-{team}
  system: system-{system}
  definition: |
    openapi: "3.0.0"
    info:
      version: 1.0.0
      title: API {i}
      license:
        name: MIT
    servers:
      - url: https://api.example.com/v1/{i}
    paths:
      /items:
        get:
          summary: List all items
          operationId: listItems
          parameters:
            - name: limit
              in: query
              required: false
              schema:
                type: integer
                format: int32
          responses:
            "200":
              description: A paged array of items
"#,
        team = i % 20,
        system = i % 10,
    );
}

fn resource_doc(out: &mut String, i: usize) {
    let _ = write!(
        out,
        r#"# Resource {i}
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: db-{i}
  namespace: ns-{ns}
  title: Database {i}
  description: PostgreSQL database for service {i}.
  labels:
    engine: postgres
    size: medium
    backup: daily
    region: eu-west-1
  annotations:
    backstage.io/managed-by-location: url:https://github.com/acme/infra/blob/main/db-{i}.yaml
    backstage.io/managed-by-origin-location: url:https://github.com/acme/infra/blob/main/catalog.yaml
    backstage.io/techdocs-ref: dir:.
    aws.amazon.com/arn: "arn:aws:rds:eu-west-1:123456789012:db:db-{i}"
  tags:
    - database
    - postgres
  links:
    - url: https://console.example.com/db/db-{i}
      title: Console
      icon: dashboard
    - url: https://grafana.example.com/d/db-{i}
      title: Metrics
spec:
  type: database
  owner: group:default/team-{team}
  system: system-{system}
  dependsOn:
    - resource:default/network-{net}
  dependencyOf:
    - component:default/svc-{i}
"#,
        ns = i % 7,
        team = i % 20,
        system = i % 10,
        net = i % 3,
    );
}

fn system_doc(out: &mut String, i: usize) {
    let _ = write!(
        out,
        r#"# System {i}
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: system-{i}
  title: System {i}
  description: |
    A system grouping services, APIs and resources.
    It spans several teams.
  labels:
    criticality: high
    cost-center: cc-{i}
  annotations:
    backstage.io/techdocs-ref: dir:.
    github.com/project-slug: acme/system-{i}
    backstage.io/managed-by-location: url:https://github.com/acme/systems/blob/main/system-{i}.yaml
  tags:
    - platform
    - tier-1
  links:
    - url: https://wiki.example.com/system-{i}
      title: Wiki
      icon: docs
    - url: https://status.example.com/system-{i}
      title: Status page
      type: status
spec:
  owner: group:default/team-{team}
  domain: domain-{domain}
"#,
        team = i % 20,
        domain = i % 5,
    );
}

fn domain_doc(out: &mut String, i: usize) {
    let _ = write!(
        out,
        r#"# Domain {i}
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata:
  name: domain-{i}
  title: Domain {i}
  description: >
    A business domain: the systems of one line of business,
    owned by its leadership group.
  labels:
    line-of-business: lob-{i}
  annotations:
    backstage.io/techdocs-ref: dir:.
    backstage.io/managed-by-location: url:https://github.com/acme/org/blob/main/domains.yaml
  tags:
    - business
    - strategy
  links:
    - url: https://wiki.example.com/domain-{i}
      title: Wiki
      icon: docs
    - url: https://okr.example.com/domain-{i}
      title: Objectives
spec:
  owner: group:default/leadership
  subdomainOf: domain-root
"#,
    );
}

fn group_doc(out: &mut String, i: usize) {
    let _ = write!(
        out,
        r#"# Group {i}
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-{i}
  title: Team {i}
  description: A product team.
  labels:
    department: engineering
    site: remote
  annotations:
    github.com/team-slug: acme/team-{i}
    backstage.io/managed-by-location: url:https://github.com/acme/org/blob/main/teams.yaml
  tags:
    - team
  links:
    - url: https://chat.example.com/channels/team-{i}
      title: Chat channel
      icon: chat
spec:
  type: team
  profile:
    displayName: Team {i}
    email: team-{i}@example.com
    picture: https://example.com/groups/team-{i}.png
  parent: engineering
  children: []
  members:
    - user-{i}
    - user-{m1}
    - user-{m2}
    - user:default/user-{m3}
    - user-{m4}
    - user-{m5}
    - user-{m6}
"#,
        m1 = i + 1,
        m2 = i + 2,
        m3 = i + 3,
        m4 = i + 4,
        m5 = i + 5,
        m6 = i + 6,
    );
}

fn user_doc(out: &mut String, i: usize) {
    let _ = write!(
        out,
        r#"# User {i}
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: user-{i}
  title: User Number {i}
  description: Software engineer.
  labels:
    location: remote
    employment: full-time
  annotations:
    github.com/user-login: user{i}
    backstage.io/managed-by-location: url:https://github.com/acme/org/blob/main/users.yaml
    backstage.io/managed-by-origin-location: url:https://github.com/acme/org/blob/main/catalog.yaml
  tags:
    - engineer
  links:
    - url: https://chat.example.com/users/user-{i}
      title: Chat
      icon: chat
spec:
  profile:
    displayName: User Number {i}
    email: user-{i}@example.com
    picture: https://example.com/avatars/user-{i}.png
  memberOf:
    - team-{team}
    - group:default/guild-{guild}
    - team-{team2}
"#,
        team = i % 20,
        guild = i % 4,
        team2 = (i + 7) % 20,
    );
}

/// A deterministic multi-document catalog file: per 20 documents, 8 Components, 4 APIs,
/// 2 Resources, 1 System, 1 Domain, 2 Groups and 2 Users.
fn generated_catalog(docs: usize) -> String {
    let mut out = String::with_capacity(docs * 1_000);
    for i in 0..docs {
        if i > 0 {
            out.push_str("---\n");
        }
        match i % 20 {
            0..=7 => component_doc(&mut out, i),
            8..=11 => api_doc(&mut out, i),
            12..=13 => resource_doc(&mut out, i),
            14 => system_doc(&mut out, i),
            15 => domain_doc(&mut out, i),
            16..=17 => group_doc(&mut out, i),
            _ => user_doc(&mut out, i),
        }
    }
    out
}

/// Parses and validates every document; returns how many were valid.
fn parse_and_validate(validator: &EntityValidator, text: &str) -> usize {
    parse_entity_documents(text)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|doc| validator.validate(doc.value().clone()).is_ok())
        .count()
}

/// Reports fixture mistakes on stderr (never panics: benches are built and may be run in
/// test mode by workspace-wide commands).
fn check_fixtures(validator: &EntityValidator, catalog: &str) {
    if let Err(e) = validator.validate(typical_component()) {
        eprintln!("warning: typical component is invalid: {e}");
    }
    if let Err(e) = validator.validate(typical_group()) {
        eprintln!("warning: typical group is invalid: {e}");
    }
    let problems = validator.problems(&invalid_component());
    if problems.len() != 3 {
        eprintln!(
            "warning: invalid component has {} problems, expected 3: {problems:?}",
            problems.len()
        );
    }
    let docs = parse_entity_documents(catalog);
    let parsed = docs.iter().filter(|d| d.is_ok()).count();
    let valid = parse_and_validate(validator, catalog);
    if parsed != YAML_DOCS || valid != YAML_DOCS {
        eprintln!("warning: generated catalog: {parsed} parsed, {valid} valid of {YAML_DOCS}");
        for doc in docs.iter().flatten() {
            if let Err(e) = validator.validate(doc.value().clone()) {
                eprintln!("  document {}: {e}", doc.index());
                break;
            }
        }
    }
}

fn bench_entity_ref(c: &mut Criterion) {
    let context = RefContext::with_kind("Group");
    let parsed: Vec<CompoundEntityRef> = REFS
        .iter()
        .filter_map(|r| parse_entity_ref(r, &context).ok())
        .collect();

    let mut group = c.benchmark_group("entity_ref");
    group.throughput(Throughput::Elements(REFS.len() as u64));
    group.bench_function("parse", |b| {
        b.iter(|| {
            for r in REFS {
                let _ = black_box(parse_entity_ref(black_box(r), &context));
            }
        });
    });
    group.throughput(Throughput::Elements(parsed.len() as u64));
    group.bench_function("parse_view", |b| {
        b.iter(|| {
            for r in REFS {
                let _ = black_box(parse_entity_ref_view(black_box(r), &context));
            }
        });
    });
    group.bench_function("stringify", |b| {
        b.iter(|| {
            for r in &parsed {
                black_box(stringify_entity_ref(
                    black_box(&r.kind),
                    black_box(&r.namespace),
                    black_box(&r.name),
                ));
            }
        });
    });
    group.finish();
}

fn bench_validate(c: &mut Criterion) {
    let validator = EntityValidator::default();
    let component = typical_component();
    let group_entity = typical_group();
    let invalid = invalid_component();

    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Elements(1));
    group.bench_function("typical_entity", |b| {
        b.iter_batched(
            || component.clone(),
            |entity| validator.validate(entity),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("typical_group", |b| {
        b.iter_batched(
            || group_entity.clone(),
            |entity| validator.validate(entity),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("invalid_entity_problems", |b| {
        b.iter(|| validator.problems(black_box(&invalid)));
    });
    group.finish();
}

fn bench_yaml(c: &mut Criterion) {
    let validator = EntityValidator::default();
    let catalog = generated_catalog(YAML_DOCS);
    check_fixtures(&validator, &catalog);

    let mut group = c.benchmark_group("yaml");
    // ~25 ms per iteration: flat sampling keeps 20 samples within the measurement time.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::ElementsAndBytes {
        elements: YAML_DOCS as u64,
        bytes: catalog.len() as u64,
    });
    group.bench_function("parse_1000_entities", |b| {
        b.iter(|| parse_entity_documents(black_box(&catalog)));
    });
    group.bench_function("parse_and_validate_1000", |b| {
        b.iter(|| parse_and_validate(&validator, black_box(&catalog)));
    });
    group.finish();
}

fn bench_relations(c: &mut Criterion) {
    let validator = EntityValidator::default();
    let component = typical_component();
    // Emit from the entity as the catalog stores it (namespace defaulted, arrays sorted).
    let component = validator.validate(component.clone()).unwrap_or(component);

    let mut group = c.benchmark_group("relations");
    group.throughput(Throughput::Elements(1));
    group.bench_function("emit", |b| {
        b.iter(|| relations::emit_relations(black_box(&component)));
    });
    group.finish();
}

fn config() -> Criterion {
    // 2-core machine: short defaults; override on the command line
    // (`-- --warm-up-time 1 --measurement-time 3`).
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_entity_ref, bench_validate, bench_yaml, bench_relations
}
criterion_main!(benches);
