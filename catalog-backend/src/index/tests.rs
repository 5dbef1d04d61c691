use serde_json::json;

use super::*;
use crate::query::filter::parse_filter_params;

fn entity(kind: &str, name: &str, uid: &str, spec: Value) -> FinalEntityChange {
    let json = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default", "uid": uid, "etag": "e"},
        "spec": spec,
        "relations": [],
    });
    change(&json)
}

fn change(json: &Value) -> FinalEntityChange {
    let kind = json["kind"].as_str().unwrap_or_default().to_lowercase();
    let name = json["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    FinalEntityChange {
        seq: 0,
        uid: json["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        entity_ref: format!("{kind}:default/{name}"),
        json: Some(json.to_string()),
    }
}

fn delete(uid: &str) -> FinalEntityChange {
    FinalEntityChange {
        seq: 0,
        uid: uid.into(),
        entity_ref: String::new(),
        json: None,
    }
}

fn filter(s: &str) -> Predicate {
    parse_filter_params(&[s]).unwrap().unwrap()
}

fn names(items: &[IndexedEntity]) -> Vec<String> {
    items
        .iter()
        .map(|e| {
            e.entity_ref()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn sample() -> EntityIndex {
    let index = EntityIndex::new();
    index.apply(&[
        entity(
            "Component",
            "alpha",
            "u3",
            json!({"type": "service", "owner": "team-a", "tags": ["java", "Data"]}),
        ),
        entity(
            "Component",
            "Beta",
            "u1",
            json!({"type": "website", "owner": "team-b", "tags": ["java"]}),
        ),
        entity(
            "Component",
            "gamma",
            "u2",
            json!({"type": "Service", "owner": null}),
        ),
        entity(
            "API",
            "delta",
            "u5",
            json!({"type": "openapi", "owner": "team-a", "long": "x".repeat(300)}),
        ),
        entity("Group", "team-a", "u4", json!({"type": "team"})),
    ]);
    index
}

#[test]
fn apply_lookup_replace_and_delete() {
    let index = sample();
    assert_eq!(index.len(), 5);
    assert!(!index.is_empty());
    assert_eq!(
        index.get_by_ref("component:default/beta").unwrap().uid(),
        "u1"
    );
    assert!(index.get_by_ref("Component:default/beta").is_none());
    assert_eq!(
        index.get_by_uid("U1").unwrap().entity_ref(),
        "component:default/beta"
    );

    // Replacing keeps one entity and re-indexes it.
    index.apply(&[entity(
        "Component",
        "beta",
        "u1",
        json!({"type": "library"}),
    )]);
    assert_eq!(index.len(), 5);
    assert!(index.matches("component:default/beta", &filter("spec.type=library")));
    assert!(!index.matches("component:default/beta", &filter("spec.type=website")));

    // Same ref under a new uid replaces the old entity.
    index.apply(&[entity("Component", "beta", "u9", json!({}))]);
    assert_eq!(index.len(), 5);
    assert!(index.get_by_uid("u1").is_none());
    assert_eq!(
        index.get_by_ref("component:default/beta").unwrap().uid(),
        "u9"
    );

    index.apply(&[delete("u9"), delete("nope")]);
    assert_eq!(index.len(), 4);
    assert!(index.get_by_ref("component:default/beta").is_none());
    assert!(
        index
            .list(Some(&filter("metadata.name=beta")), None)
            .is_empty()
    );
}

#[test]
fn unindexable_changes_are_skipped() {
    let index = sample();
    let mut bad = entity("Component", "alpha", "u3", json!({"a": 1, "A": 2}));
    index.apply(std::slice::from_ref(&bad));
    // The previous version stays.
    assert!(index.matches("component:default/alpha", &filter("spec.type=service")));
    bad.json = Some("{not json".into());
    index.apply(&[bad]);
    assert_eq!(index.len(), 5);
}

#[test]
fn filters_are_case_insensitive_set_operations() {
    let index = sample();
    let run = |f: &str| {
        let mut n = names(&index.list(Some(&filter(f)), None));
        n.sort();
        n
    };
    assert_eq!(run("kind=component"), ["alpha", "beta", "gamma"]);
    assert_eq!(run("kind=Component,spec.type=SERVICE"), ["alpha", "gamma"]);
    assert_eq!(run("kind=api,kind=group"), ["delta", "team-a"]);
    assert_eq!(run("spec.tags.java"), ["alpha", "beta"]);
    assert!(run("metadata.tags.java").is_empty());
    assert_eq!(run("spec.tags=data"), ["alpha"]);
    // Existence sees null and over-long values; equality does not.
    assert_eq!(run("spec.owner"), ["alpha", "beta", "delta", "gamma"]);
    assert_eq!(run("spec.long"), ["delta"]);
    assert!(run(&format!("spec.long={}", "x".repeat(300))).is_empty());
    assert!(run("nothing=x").is_empty());

    let p = |v: Value| Predicate::parse(&v).unwrap();
    let query = |v: Value| {
        let mut n = names(&index.list(Some(&p(v)), None));
        n.sort();
        n
    };
    assert_eq!(
        query(json!({"$not": {"kind": "component"}})),
        ["delta", "team-a"]
    );
    assert_eq!(query(json!({"spec.owner": {"$exists": false}})), ["team-a"]);
    assert_eq!(
        query(json!({"metadata.name": {"$hasPrefix": "AL"}})),
        ["alpha"]
    );
    assert_eq!(query(json!({"$any": []})), Vec::<String>::new());
    assert_eq!(query(json!({"$all": []})).len(), 5);
    assert_eq!(
        query(json!({"spec.type": {"$in": []}})),
        Vec::<String>::new()
    );
}

#[test]
fn relations_are_filterable() {
    let index = EntityIndex::new();
    index.apply(&[change(&json!({
        "kind": "User", "metadata": {"name": "jo", "uid": "a"},
        "relations": [{"type": "memberOf", "targetRef": "group:default/ops"}],
    }))]);
    let p = Predicate::parse(&json!({"relations": {"$contains": {"type": "memberof", "targetRef": "group:default/OPS"}}})).unwrap();
    assert!(index.matches("user:default/jo", &p));
    assert!(index.matches(
        "user:default/jo",
        &filter("relations.memberOf=group:default/ops")
    ));
}

#[test]
fn list_orders_by_value_then_uid_and_excludes_missing() {
    let index = sample();
    let asc = OrderField::new("spec.type", OrderDirection::Asc);
    // gamma (u2, "service") and alpha (u3, "service") tie: uid order.
    assert_eq!(
        names(&index.list(None, Some(&asc))),
        ["delta", "gamma", "alpha", "team-a", "beta"]
    );
    let desc = OrderField::new("spec.type", OrderDirection::Desc);
    assert_eq!(
        names(&index.list(None, Some(&desc))),
        ["beta", "team-a", "alpha", "gamma", "delta"]
    );
    // Entities without a value are excluded, multi-valued keys repeat entities.
    let owner = OrderField::new("spec.owner", OrderDirection::Asc);
    assert_eq!(
        names(&index.list(None, Some(&owner))),
        ["alpha", "delta", "beta"]
    );
    let tags = OrderField::new("spec.tags", OrderDirection::Asc);
    assert_eq!(
        names(&index.list(None, Some(&tags))),
        ["alpha", "beta", "alpha"]
    );
    // Default: by uid.
    assert_eq!(
        names(&index.list(None, None)),
        ["beta", "gamma", "alpha", "team-a", "delta"]
    );
}

#[test]
fn paginated_listing_keeps_nulls_last_and_honours_every_field() {
    let index = sample();
    let order = [
        OrderField::new("spec.owner", OrderDirection::Desc),
        OrderField::new("metadata.name", OrderDirection::Asc),
    ];
    let (items, more) = index.list_paginated(None, &order, 0, Some(3));
    assert_eq!(names(&items), ["beta", "alpha", "delta"]);
    assert!(more);
    let (items, more) = index.list_paginated(None, &order, 3, Some(3));
    // gamma (null owner) and team-a (no owner): nulls last, then by name.
    assert_eq!(names(&items), ["gamma", "team-a"]);
    assert!(!more);
    // Default order: by ref.
    let (items, _) = index.list_paginated(None, &[], 0, None);
    assert_eq!(names(&items), ["delta", "alpha", "beta", "gamma", "team-a"]);
    let (items, more) = index.list_paginated(Some(&filter("kind=component")), &[], 1, Some(1));
    assert_eq!(names(&items), ["beta"]);
    assert!(more);
}

fn many() -> EntityIndex {
    let index = EntityIndex::new();
    // 25 components; names repeat every 10 so sort values tie across pages.
    let changes: Vec<_> = (0..25)
        .map(|i| {
            entity(
                "Component",
                &format!("c{i:02}"),
                &format!("uid-{:02}", (i * 7) % 25),
                json!({"type": format!("t{}", i % 10), "lifecycle": if i % 2 == 0 { "prod" } else { "dev" }}),
            )
        })
        .collect();
    index.apply(&changes);
    index
}

fn initial(order: Option<OrderField>, query: Option<Predicate>, limit: usize) -> QueryRequest {
    QueryRequest {
        cursor: Cursor {
            order_fields: order.into_iter().collect(),
            query,
            ..Cursor::default()
        },
        offset: 0,
        limit,
        skip_total_items: false,
    }
}

fn follow(cursor: Cursor, limit: usize) -> QueryRequest {
    QueryRequest {
        cursor,
        offset: 0,
        limit,
        skip_total_items: false,
    }
}

#[test]
fn query_pages_forward_and_backward_with_ties() {
    let index = many();
    for order in [
        Some(OrderField::new("spec.type", OrderDirection::Asc)),
        Some(OrderField::new("spec.type", OrderDirection::Desc)),
        None,
    ] {
        let all = names(&index.query(&initial(order.clone(), None, 100)).items);
        assert_eq!(all.len(), 25);

        let mut pages = Vec::new();
        let mut page = index.query(&initial(order.clone(), None, 7));
        assert!(page.prev_cursor.is_none());
        assert_eq!(page.total_items, 25);
        pages.push(names(&page.items));
        while let Some(next) = page.next_cursor.clone() {
            page = index.query(&follow(next, 7));
            assert_eq!(page.total_items, 25);
            assert!(page.prev_cursor.is_some());
            pages.push(names(&page.items));
        }
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [7, 7, 7, 4]);
        assert_eq!(pages.concat(), all, "{order:?}");

        // Walk back from the last page to the first.
        let mut back = vec![names(&page.items)];
        while let Some(prev) = page.prev_cursor.clone() {
            page = index.query(&follow(prev, 7));
            assert!(page.next_cursor.is_some());
            back.push(names(&page.items));
        }
        back.reverse();
        assert_eq!(back, pages, "{order:?}");
    }
}

#[test]
fn query_filters_counts_offsets_and_limits() {
    let index = many();
    let prod = Some(filter("spec.lifecycle=prod"));
    let page = index.query(&initial(None, prod.clone(), 5));
    assert_eq!(page.total_items, 13);
    assert_eq!(page.items.len(), 5);

    // limit 0: count only, no cursors.
    let page = index.query(&initial(None, prod.clone(), 0));
    assert_eq!((page.items.len(), page.total_items), (0, 13));
    assert!(page.next_cursor.is_none() && page.prev_cursor.is_none());

    // offset on the initial request.
    let all = names(&index.query(&initial(None, prod.clone(), 100)).items);
    let mut request = initial(None, prod.clone(), 4);
    request.offset = 10;
    let page = index.query(&request);
    assert_eq!(names(&page.items), all[10..13]);
    assert!(page.next_cursor.is_none());

    // totalItems=exclude: 0, and 0 again on later pages.
    let mut request = initial(None, prod, 5);
    request.skip_total_items = true;
    let page = index.query(&request);
    assert_eq!(page.total_items, 0);
    let next = index.query(&follow(page.next_cursor.unwrap(), 5));
    assert_eq!(next.total_items, 0);

    // A sort key nobody has: nothing, and nothing counted.
    let page = index.query(&initial(
        Some(OrderField::new("spec.nothing", OrderDirection::Asc)),
        None,
        5,
    ));
    assert_eq!((page.items.len(), page.total_items), (0, 0));
}

#[test]
fn full_text_filter() {
    let index = sample();
    let ft = |term: &str, fields: Option<Vec<&str>>, order: Option<OrderField>| {
        let mut request = initial(order, None, 100);
        request.cursor.full_text_filter = Some(FullTextFilter {
            term: term.into(),
            fields: fields.map(|f| f.into_iter().map(str::to_owned).collect()),
        });
        let mut n = names(&index.query(&request).items);
        n.sort();
        n
    };
    assert_eq!(
        ft(" TEAM ", Some(vec!["spec.owner", "metadata.Name"]), None),
        ["alpha", "beta", "delta", "team-a"]
    );
    // Default field: the sort field, else metadata.uid.
    assert_eq!(ft("u1", None, None), ["beta"]);
    assert_eq!(
        ft(
            "web",
            None,
            Some(OrderField::new("spec.type", OrderDirection::Asc))
        ),
        ["beta"]
    );
    // '%' and '_' are literal.
    assert!(ft("%", Some(vec!["spec.type"]), None).is_empty());
    assert!(ft("_", Some(vec!["metadata.name"]), None).is_empty());
    assert_eq!(ft("", Some(vec!["nothing"]), None).len(), 5);
}

#[test]
fn facets_count_entities_per_original_value() {
    let index = sample();
    let facets = index.facets(&["spec.type", "Kind", "unknown", "metadata.tags"], None);
    let pairs = |i: usize| {
        facets[i]
            .iter()
            .map(|c| (c.value.as_str(), c.count))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        pairs(0),
        [
            ("openapi", 1),
            ("Service", 1),
            ("service", 1),
            ("team", 1),
            ("website", 1)
        ]
    );
    assert_eq!(pairs(1), [("API", 1), ("Component", 3), ("Group", 1)]);
    assert!(facets[2].is_empty());
    let filtered = index.facets(
        &["spec.tags", "spec.owner"],
        Some(&filter("kind=component")),
    );
    let values: Vec<_> = filtered[0]
        .iter()
        .map(|c| (c.value.as_str(), c.count))
        .collect();
    assert_eq!(values, [("Data", 1), ("java", 2)]);
    // null owners are not facet values; over-long values neither.
    let owners: Vec<_> = filtered[1]
        .iter()
        .map(|c| (c.value.as_str(), c.count))
        .collect();
    assert_eq!(owners, [("team-a", 1), ("team-b", 1)]);
    assert!(index.facets(&["spec.long"], None)[0].is_empty());
}

#[test]
fn by_refs_is_exact_and_filtered() {
    let index = sample();
    let refs = [
        "component:default/alpha",
        "Component:default/alpha",
        "api:default/delta",
        "x:y/z",
        "component:default/alpha",
    ];
    let found: Vec<bool> = index
        .by_refs(&refs, None)
        .iter()
        .map(Option::is_some)
        .collect();
    assert_eq!(found, [true, false, true, false, true]);
    let found: Vec<bool> = index
        .by_refs(&refs, Some(&filter("kind=api")))
        .iter()
        .map(Option::is_some)
        .collect();
    assert_eq!(found, [false, false, true, false, false]);
}

#[test]
fn churn_keeps_structures_consistent() {
    let index = EntityIndex::new();
    for round in 0..30 {
        let changes: Vec<_> = (0..200)
            .map(|i| {
                entity(
                    "Component",
                    &format!("e{i}"),
                    &format!("u{i}"),
                    json!({"round": round, "unique": format!("{}-{round}-{i}", "v".repeat(150)), "tags": [format!("t{round}-{i}")]}),
                )
            })
            .collect();
        index.apply(&changes);
    }
    let stats = index.stats();
    assert_eq!(stats.entities, 200);
    // Old values and synthetic keys are gone.
    assert!(index.list(Some(&filter("spec.round=0")), None).is_empty());
    assert_eq!(index.list(Some(&filter("spec.round=29")), None).len(), 200);
    assert!(index.list(Some(&filter("spec.tags.t0-1")), None).is_empty());
    assert_eq!(index.list(Some(&filter("spec.tags.t29-1")), None).len(), 1);
    let facet = &index.facets(&["spec.round"], None)[0];
    assert_eq!(
        facet,
        &[FacetCount {
            value: "29".into(),
            count: 200
        }]
    );
    // Keys: apiversion, kind, spec.round, spec.unique, spec.tags, one synthetic tag key per
    // entity, metadata.name/namespace/uid.
    assert_eq!(stats.keys, 8 + 200);
    assert!(index.get_by_uid("u5").is_some());
    for i in 0..200 {
        index.apply(&[delete(&format!("u{i}"))]);
    }
    let stats = index.stats();
    assert_eq!(
        (stats.entities, stats.keys, stats.entries, stats.json_bytes),
        (0, 0, 0, 0)
    );
}

#[test]
fn replaced_documents_are_compacted_and_stay_intact() {
    let index = EntityIndex::new();
    let long = "d".repeat(1500);
    let batch = |version: u32| -> Vec<FinalEntityChange> {
        (0..400)
            .map(|i| {
                entity(
                    "Component",
                    &format!("c{i}"),
                    &format!("u{i}"),
                    json!({"type": "service", "version": version, "description": long}),
                )
            })
            .collect()
    };
    index.apply(&batch(0));
    let first = index.stats().document_bytes;
    // Every update leaves the previous versions' bytes dead; compaction keeps the blocks
    // from growing without bound.
    for version in 1..20 {
        index.apply(&batch(version));
    }
    let stats = index.stats();
    assert_eq!(stats.entities, 400);
    assert!(
        stats.document_bytes < first * 3,
        "{} bytes held for {} live",
        stats.document_bytes,
        stats.json_bytes
    );
    for i in [0, 199, 399] {
        let e = index
            .get_by_ref(&format!("component:default/c{i}"))
            .unwrap();
        assert_eq!(e.uid(), format!("u{i}"));
        assert_eq!(e.entity_ref(), format!("component:default/c{i}"));
        let value: Value = serde_json::from_slice(e.json()).unwrap();
        assert_eq!(value["spec"]["version"], 19);
        assert_eq!(e.json_bytes(), e.json());
    }
}
