//! Generates the differential corpus: a deterministic list of JSON cases (see
//! `tests/compat/verdicts.cjs` for their shapes). Every case carries a `label` saying how it
//! was made; the oracle ignores it.

use serde_json::{Map, Value, json};

/// A small seeded PRNG (SplitMix64), so the corpus is the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The whole corpus, in a fixed order.
pub fn corpus() -> Vec<Value> {
    let mut out = Vec::new();
    let docs = entity_docs();
    for (label, doc) in &docs {
        out.push(json!({ "t": "entity", "label": label, "doc": doc }));
    }
    kind_checks(&docs, &mut out);
    validator_fns(&mut out);
    parse_refs(&mut out);
    stringify_refs(&mut out);
    location_refs(&mut out);
    group_parents(&mut out);
    out
}

// ---------------------------------------------------------------------------------------
// JSON editing helpers

fn container<'a>(doc: &'a mut Value, path: &[&str]) -> &'a mut Map<String, Value> {
    let mut cur = doc;
    for key in path {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(map) = cur else {
            unreachable!()
        };
        cur = map
            .entry((*key).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    let Value::Object(map) = cur else {
        unreachable!()
    };
    map
}

/// Sets `path` (creating parent objects); an existing key keeps its position.
fn set(doc: &mut Value, path: &[&str], value: Value) {
    let (last, parents) = path.split_last().expect("non-empty path");
    container(doc, parents).insert((*last).to_owned(), value);
}

/// Removes `path` if present, keeping the order of the other keys.
fn del(doc: &mut Value, path: &[&str]) {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut cur = doc;
    for key in parents {
        match cur.get_mut(*key) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Value::Object(map) = cur {
        map.shift_remove(*last);
    }
}

type Edit = Box<dyn Fn(&mut Value)>;

struct Mutation {
    label: String,
    edit: Edit,
}

fn mset(path: &[&str], value: Value) -> Mutation {
    let owned: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
    Mutation {
        label: format!("{}={}", path.join("."), short(&value)),
        edit: Box::new(move |d| {
            let p: Vec<&str> = owned.iter().map(String::as_str).collect();
            set(d, &p, value.clone());
        }),
    }
}

fn mdel(path: &[&str]) -> Mutation {
    let owned: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
    Mutation {
        label: format!("{} removed", path.join(".")),
        edit: Box::new(move |d| {
            let p: Vec<&str> = owned.iter().map(String::as_str).collect();
            del(d, &p);
        }),
    }
}

fn mfn(label: impl Into<String>, edit: impl Fn(&mut Value) + 'static) -> Mutation {
    Mutation {
        label: label.into(),
        edit: Box::new(edit),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        let head: String = s.chars().take(57).collect();
        format!("{head}...")
    } else {
        s
    }
}

// ---------------------------------------------------------------------------------------
// Entity documents

pub const KINDS: [&str; 8] = [
    "API",
    "Component",
    "Resource",
    "System",
    "Domain",
    "Group",
    "User",
    "Location",
];
const VERSIONS: [&str; 2] = ["backstage.io/v1alpha1", "backstage.io/v1beta1"];

/// The kind validator name (as in verdicts.cjs) for a stable kind.
pub fn validator_for(kind: &str) -> &'static str {
    match kind {
        "API" => "api",
        "Component" => "component",
        "Resource" => "resource",
        "System" => "system",
        "Domain" => "domain",
        "Group" => "group",
        "User" => "user",
        _ => "location",
    }
}

pub const ALL_VALIDATORS: [&str; 14] = [
    "api",
    "component",
    "resource",
    "group",
    "location",
    "user",
    "system",
    "domain",
    "mcpServerApi",
    "aiResource",
    "skillAiResource",
    "ruleAiResource",
    "pluginAiResource",
    "marketplaceAiResource",
];

fn spec_for(kind: &str, rich: bool) -> Value {
    let extra = json!({ "nested": [1, null, true, "x"], "n": 1.5 });
    let mut spec = match kind {
        "API" => json!({
            "type": "openapi", "lifecycle": "production", "owner": "team-a",
            "definition": "openapi: 3.0.0\ninfo:\n  title: Petstore ✓\n"
        }),
        "Component" => json!({ "type": "service", "lifecycle": "production", "owner": "team-a" }),
        "Resource" => json!({ "type": "database", "owner": "team-a" }),
        "System" | "Domain" => json!({ "owner": "group:default/team-a" }),
        "Group" => json!({ "type": "team", "children": [] }),
        "User" => json!({ "memberOf": [] }),
        _ => json!({}),
    };
    if rich {
        let more = match kind {
            "API" => json!({ "system": "sys-a" }),
            "Component" => json!({
                "system": "sys-a", "subcomponentOf": "component:parent",
                "providesApis": ["api-a", "api:default/api-b"], "consumesApis": ["api-c"],
                "dependsOn": ["resource:db", "component:other"], "dependencyOf": ["x"]
            }),
            "Resource" => {
                json!({ "dependsOn": ["resource:other"], "dependencyOf": ["component:c"], "system": "sys-a" })
            }
            "System" => json!({ "domain": "dom-a", "type": "product" }),
            "Domain" => json!({ "subdomainOf": "dom-root", "type": "business" }),
            "Group" => json!({
                "parent": "org", "children": ["team-b", "group:ns2/team-c"], "members": ["jdoe"],
                "profile": { "displayName": "Team A ✓", "email": "team-a@example.com", "picture": "https://example.com/a.png" }
            }),
            "User" => json!({
                "memberOf": ["team-a", "group:other/team-b"],
                "profile": { "displayName": "Jöhn Doe", "email": "jdoe@example.com", "picture": "https://example.com/j.png" }
            }),
            _ => json!({
                "type": "url", "target": "https://example.com/catalog-info.yaml",
                "targets": ["./a.yaml", "https://example.com/b.yaml"], "presence": "optional"
            }),
        };
        if let (Value::Object(s), Value::Object(m)) = (&mut spec, more) {
            s.extend(m);
            s.insert("x-extra".into(), extra);
        }
    }
    spec
}

fn base_doc(kind: &str, version: &str, namespace: Option<&str>, variant: usize) -> Value {
    let name = format!("{}-base_1.x", kind.to_lowercase());
    let mut meta = Map::new();
    meta.insert("name".into(), json!(name));
    if let Some(ns) = namespace {
        meta.insert("namespace".into(), json!(ns));
    }
    let rich = variant > 0;
    if rich {
        let extra = json!({
            "uid": "e01199ab-08cc-44c2-8e19-5c29ded82521",
            "etag": "lsndfkjsndfkjnsdfkjnsd==",
            "title": "Ünïcødé Title ✓ 🚀",
            "description": "A description with ünïcødé, \"quotes\", a\nnewline, a tab\t and \u{2028} and \u{7f}.",
            "labels": { "backstage.io/custom": "ValueStuff", "team": "", "example.com/Foo_Bar": "V_a.l-ue" },
            "annotations": {
                "backstage.io/managed-by-location": "url:https://example.com/catalog-info.yaml",
                "example.com/empty": "",
                "x.io/UPPER": "any thing / at all: 😀"
            },
            "tags": ["java", "c++", "c#", "lang:java", "go:1-x"],
            "links": [
                { "url": "https://admin.example-org.com", "title": "Admin Dashboard", "icon": "dashboard", "type": "admin" },
                { "url": "mailto:team@example.com" },
                { "url": "https://example.com/x", "title": " padded ", "extra-key": 1 }
            ],
            "generation": 3,
            "x-custom": { "a": [1, 2, { "b": null }], "z": false }
        });
        if let Value::Object(m) = extra {
            meta.extend(m);
        }
    }
    let spec = spec_for(kind, rich);
    let mut root = Map::new();
    if variant == 2 {
        // Unusual root key orders: the output order must still follow lodash.merge.
        root.insert("kind".into(), json!(kind));
        root.insert("spec".into(), spec);
        root.insert("metadata".into(), Value::Object(meta));
        root.insert("apiVersion".into(), json!(version));
    } else if variant == 3 {
        root.insert("metadata".into(), Value::Object(meta));
        root.insert("apiVersion".into(), json!(version));
        root.insert("kind".into(), json!(kind));
        root.insert("spec".into(), spec);
    } else {
        root.insert("apiVersion".into(), json!(version));
        root.insert("kind".into(), json!(kind));
        root.insert("metadata".into(), Value::Object(meta));
        root.insert("spec".into(), spec);
    }
    Value::Object(root)
}

/// Label/annotation keys: (key, accepted by isValidLabelKey).
fn label_keys() -> Vec<(String, bool)> {
    let long_prefix = |n: usize| -> String {
        // DNS labels of 63 chars joined by dots, cut to n chars, never ending in a dot.
        let mut s = String::new();
        while s.len() < n {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(&"a".repeat(62));
            s.push('b');
        }
        s.truncate(n);
        while s.ends_with('.') {
            s.pop();
            s.push('c');
        }
        s
    };
    let mut v: Vec<(String, bool)> = [
        ("foo", true),
        ("backstage.io/foo", true),
        ("example.com/Foo_Bar", true),
        ("backstage.io/managed-by-location", true),
        ("x.io/UPPER", true),
        ("Backstage.io/foo", false),
        ("UPPER.io/x", false),
        ("a/b/c", false),
        ("/foo", false),
        ("foo/", false),
        ("", false),
        ("a\nb", false),
        ("a\rb", false),
        ("a\u{2028}b", false),
        ("\n", false),
        ("a b", false),
        ("ä", false),
        ("-a", false),
        ("a_", false),
        ("x_y/a", false),
        ("a..b/c", false),
        ("a.b/c..d", true),
    ]
    .iter()
    .map(|(k, ok)| ((*k).to_owned(), *ok))
    .collect();
    v.push(("a".repeat(63), true));
    v.push(("a".repeat(64), false));
    v.push((format!("example.com/{}", "a".repeat(63)), true));
    v.push((format!("example.com/{}", "a".repeat(64)), false));
    v.push((format!("{}/x", long_prefix(253)), true));
    v.push((format!("{}/x", long_prefix(254)), false));
    v.push((format!("{}/x", long_prefix(300)), false));
    v
}

fn generic_mutations() -> Vec<Mutation> {
    let mut m: Vec<Mutation> = Vec::new();
    let non_strings = [
        json!(5),
        json!(null),
        json!(true),
        json!([]),
        json!({}),
        json!(1.5),
    ];

    // Root fields.
    for key in ["apiVersion", "kind", "metadata"] {
        m.push(mdel(&[key]));
    }
    for v in non_strings.iter().chain([&json!(""), &json!("x y")]) {
        m.push(mset(&["apiVersion"], v.clone()));
        m.push(mset(&["kind"], v.clone()));
    }
    for v in [
        "backstage.io/v1",
        "v1",
        "Backstage.io/v1alpha1",
        "1.0",
        "backstage.io/",
        "/v1alpha1",
        "a/b/c",
        "backstage.io/v1-alpha",
        "x_y/v1",
        "backstage.io/v1alpha1 ",
        "backstage.io/v1beta2",
        "my-company.net/v1",
        "a.b.c/V1",
        "backstage.io/V1ALPHA1",
        "backstage.io//v1alpha1",
    ] {
        m.push(mset(&["apiVersion"], json!(v)));
    }
    for v in [
        "component",
        "COMPONENT",
        "api",
        "Api",
        "group",
        "1a",
        "my-kind",
        "a_b",
        "Unknown",
        "Template",
        "AiResource",
        " Component",
        "Component ",
        "ſystem",
        "Kind1",
        "K",
    ] {
        m.push(mset(&["kind"], json!(v)));
    }
    m.push(mset(&["kind"], json!("A".repeat(63))));
    m.push(mset(&["kind"], json!("A".repeat(64))));
    for v in [
        json!(null),
        json!("x"),
        json!([]),
        json!(5),
        json!({}),
        json!([{ "name": "a" }]),
    ] {
        m.push(mset(&["metadata"], v));
    }

    // metadata.name
    m.push(mdel(&["metadata", "name"]));
    for v in non_strings.iter().chain([&json!("")]) {
        m.push(mset(&["metadata", "name"], v.clone()));
    }
    for v in [
        "a b",
        "-a",
        "a-",
        "_a",
        "a_",
        "ä",
        "a/b",
        "a:b",
        "a\nb",
        " a",
        "a--b",
        "a..b",
        "a-_.b",
        "A",
        "1",
        "CircleciBuildsDumpV2_avro_gcs",
        ".a",
        "a.",
    ] {
        m.push(mset(&["metadata", "name"], json!(v)));
    }
    m.push(mset(&["metadata", "name"], json!("a".repeat(63))));
    m.push(mset(&["metadata", "name"], json!("a".repeat(64))));

    // metadata.namespace
    m.push(mdel(&["metadata", "namespace"]));
    for v in non_strings.iter().chain([&json!("")]) {
        m.push(mset(&["metadata", "namespace"], v.clone()));
    }
    for v in [
        "Default", "a_b", "a.b", "-a", "a-", "a--b", "ns1", "1", "a b", "default", "ä",
    ] {
        m.push(mset(&["metadata", "namespace"], json!(v)));
    }
    m.push(mset(&["metadata", "namespace"], json!("a".repeat(63))));
    m.push(mset(&["metadata", "namespace"], json!("a".repeat(64))));

    // title, uid, etag, description
    for key in ["title", "uid", "etag"] {
        for v in non_strings
            .iter()
            .chain([&json!(""), &json!(" "), &json!("ünïcødé ✓ \u{FEFF}")])
        {
            m.push(mset(&["metadata", key], v.clone()));
        }
    }
    for v in non_strings
        .iter()
        .chain([&json!(""), &json!(" "), &json!("text")])
    {
        m.push(mset(&["metadata", "description"], v.clone()));
    }

    // labels and annotations
    for field in ["labels", "annotations"] {
        for v in [
            json!(null),
            json!([]),
            json!(["a"]),
            json!("x"),
            json!(5),
            json!(true),
            json!({}),
        ] {
            m.push(mset(&["metadata", field], v));
        }
        for (key, _) in label_keys() {
            m.push(mset(
                &["metadata", field],
                json!({ "ok": "fine", key.clone(): "value" }),
            ));
        }
        // Values that are not strings; under the empty key and keys with line breaks the
        // schema does not check the value type (its patternProperties is `^.+$`).
        for key in ["x", "", "a\nb", "a\u{2028}b", "example.com/y", "a~b/c~1"] {
            for v in [
                json!(5),
                json!(true),
                json!(null),
                json!({}),
                json!([]),
                json!(1.5),
            ] {
                m.push(mset(&["metadata", field], json!({ key: v })));
            }
        }
    }
    for v in [
        "", "V_a.l-ue", "-x", "x-", "a b", "a/b", "a:b", "ä", " ", "a\nb", "Value1", "1.2.3",
    ] {
        m.push(mset(&["metadata", "labels"], json!({ "k": v })));
    }
    m.push(mset(
        &["metadata", "labels"],
        json!({ "k": "a".repeat(63) }),
    ));
    m.push(mset(
        &["metadata", "labels"],
        json!({ "k": "a".repeat(64) }),
    ));
    for v in ["", " ", "any thing / at all", "ünïcødé\n✓", "\u{0}"] {
        m.push(mset(&["metadata", "annotations"], json!({ "k": v })));
    }
    m.push(mset(
        &["metadata", "annotations"],
        json!({ "k": "x".repeat(5000) }),
    ));
    // Order of checks: the first bad entry is reported.
    m.push(mset(
        &["metadata", "labels"],
        json!({ "good": "v", "bad key": "v", "k": "-bad value" }),
    ));
    m.push(mset(
        &["metadata", "labels"],
        json!({ "good": "v", "k": "-bad value", "bad key": "v" }),
    ));
    m.push(mset(
        &["metadata", "annotations"],
        json!({ "a": "x", "Bad.io/x": "v", "b": 5 }),
    ));
    m.push(mset(
        &["metadata", "annotations"],
        json!({ "a": 5, "Bad.io/x": "v" }),
    ));

    // tags
    for v in [
        json!(null),
        json!("java"),
        json!(5),
        json!({}),
        json!({ "0": "a" }),
    ] {
        m.push(mset(&["metadata", "tags"], v));
    }
    for v in [
        json!(5),
        json!(null),
        json!(""),
        json!([]),
        json!({}),
        json!(true),
    ] {
        m.push(mset(&["metadata", "tags"], json!(["ok", v])));
    }
    for t in [
        "java",
        "c++",
        "c#",
        "lang:java",
        "go:1-x",
        ":",
        "+",
        "#-#",
        "Java",
        "a--b",
        "-a",
        "a-",
        "a_b",
        "a.b",
        " ",
        "a b",
        "ä",
        "a::b",
        "::",
        "-",
        "a-:",
        "1",
        "a/b",
    ] {
        m.push(mset(&["metadata", "tags"], json!([t])));
    }
    m.push(mset(&["metadata", "tags"], json!(["a".repeat(63)])));
    m.push(mset(&["metadata", "tags"], json!(["a".repeat(64)])));
    m.push(mset(&["metadata", "tags"], json!(["dup", "dup"])));
    m.push(mset(&["metadata", "tags"], json!(["ok", "Bad", "-worse"])));

    // links
    for v in [
        json!(null),
        json!("x"),
        json!({}),
        json!(5),
        json!([5]),
        json!([null]),
        json!(["x"]),
        json!([[]]),
    ] {
        m.push(mset(&["metadata", "links"], v));
    }
    for link in [
        json!({}),
        json!({ "title": "no url" }),
        json!({ "url": "" }),
        json!({ "url": 5 }),
        json!({ "url": null }),
        json!({ "url": "/relative" }),
        json!({ "url": "relative" }),
        json!({ "url": "mailto:a@b" }),
        json!({ "url": "a:b" }),
        json!({ "url": "javascript:x" }),
        json!({ "url": "https://exa mple.com" }),
        json!({ "url": "https://x y/" }),
        json!({ "url": " https://x " }),
        json!({ "url": "https://x/a b" }),
        json!({ "url": "http://" }),
        json!({ "url": "https://[::1" }),
        json!({ "url": "HTTPS://EXAMPLE.COM" }),
        json!({ "url": "https://x", "title": "" }),
        json!({ "url": "https://x", "title": " " }),
        json!({ "url": "https://x", "title": "\t\n" }),
        json!({ "url": "https://x", "title": "\u{FEFF}" }),
        json!({ "url": "https://x", "title": "\u{A0}" }),
        json!({ "url": "https://x", "title": "\u{85}" }),
        json!({ "url": "https://x", "title": "\u{180E}" }),
        json!({ "url": "https://x", "title": "\u{200B}" }),
        json!({ "url": "https://x", "title": "\u{3000}" }),
        json!({ "url": "https://x", "title": 5 }),
        json!({ "url": "https://x", "title": null }),
        json!({ "url": "https://x", "icon": "" }),
        json!({ "url": "https://x", "icon": " " }),
        json!({ "url": "https://x", "icon": "\u{FEFF}" }),
        json!({ "url": "https://x", "icon": 5 }),
        json!({ "url": "https://x", "icon": null }),
        json!({ "url": "https://x", "type": "" }),
        json!({ "url": "https://x", "type": " " }),
        json!({ "url": "https://x", "type": 5 }),
        json!({ "url": "https://x", "extra": { "a": 1 } }),
    ] {
        m.push(mset(
            &["metadata", "links"],
            json!([{ "url": "https://ok.example.com" }, link]),
        ));
    }

    // foreign root fields
    for (key, v) in [
        ("relations", json!([])),
        (
            "relations",
            json!([{ "type": "ownedBy", "targetRef": "group:default/team-a" }]),
        ),
        (
            "relations",
            json!([{ "type": "owned-by", "targetRef": "group:default/team-a" }]),
        ),
        ("relations", json!([{ "type": "ownedBy" }])),
        (
            "relations",
            json!([{ "type": "ownedBy\n", "targetRef": "a" }]),
        ),
        ("relations", json!([{ "type": "ownéd", "targetRef": "a" }])),
        ("relations", json!([{ "type": "", "targetRef": "a" }])),
        ("relations", json!([{ "type": "a", "targetRef": "" }])),
        (
            "relations",
            json!([{ "type": "a", "targetRef": "b", "target": { "kind": "k", "name": "a" } }]),
        ),
        (
            "relations",
            json!([{ "type": "a", "targetRef": "b", "target": { "kind": "k", "namespace": "", "name": "a", "x": 1 } }]),
        ),
        ("relations", json!({})),
        ("relations", json!(null)),
        (
            "relations",
            json!([{ "type": "x", "targetRef": "a", "target": { "kind": "k", "namespace": "n", "name": "a" } }]),
        ),
        (
            "relations",
            json!([{ "type": "x", "targetRef": "a", "metadata": {} }]),
        ),
        ("status", json!({})),
        ("status", json!({ "items": [] })),
        (
            "status",
            json!({ "items": [{ "type": "t", "level": "error", "message": "m" }] }),
        ),
        (
            "status",
            json!({ "items": [{ "type": "t", "level": "fatal", "message": "m" }] }),
        ),
        (
            "status",
            json!({ "items": [{ "type": "t", "level": "info", "message": "m", "error": { "name": "E", "message": "x" } }] }),
        ),
        (
            "status",
            json!({ "items": [{ "type": "t", "level": "info", "message": "m", "error": { "message": "x" } }] }),
        ),
        ("status", json!(null)),
        ("status", json!([])),
        ("foo", json!(1)),
        ("Spec", json!({})),
        ("metadata2", json!({})),
    ] {
        m.push(mset(&[key], v));
    }
    m.push(mfn("relations and status", |d| {
        set(d, &["status"], json!({}));
        set(d, &["relations"], json!([]));
    }));

    // spec shape
    m.push(mdel(&["spec"]));
    for v in [json!(null), json!([]), json!("x"), json!(5), json!(true)] {
        m.push(mset(&["spec"], v));
    }

    // extra metadata keys (preserved; some are special to lodash.merge)
    for (key, v) in [
        ("generation", json!(1)),
        ("x", json!({ "deep": [{ "a": null }] })),
        ("constructor", json!({ "a": 1 })),
        ("toString", json!("x")),
        ("__proto__", json!("a string")),
        ("__proto__", json!({ "a": 1 })),
        ("hasOwnProperty", json!([])),
        ("10", json!("integer-like key")),
    ] {
        m.push(mset(&["metadata", key], v));
    }
    m.push(mset(&["spec", "__proto__"], json!(["x"])));
    m.push(mset(&["spec", "__proto__"], json!(null)));
    m.push(mset(&["metadata", "labels"], json!({ "b": "x", "1": "y" })));
    m.push(mset(
        &["metadata", "labels"],
        json!({ "a b": "x", "1": "-y" }),
    ));
    m
}

struct SpecShape {
    required_strings: &'static [&'static str],
    optional_strings: &'static [&'static str],
    required_arrays: &'static [&'static str],
    optional_arrays: &'static [&'static str],
    profile: bool,
    untyped: &'static [&'static str],
}

fn spec_shape(kind: &str) -> SpecShape {
    let none: &'static [&'static str] = &[];
    match kind {
        "API" => SpecShape {
            required_strings: &["type", "lifecycle", "owner", "definition"],
            optional_strings: &["system"],
            required_arrays: none,
            optional_arrays: none,
            profile: false,
            untyped: none,
        },
        "Component" => SpecShape {
            required_strings: &["type", "lifecycle", "owner"],
            optional_strings: &["system", "subcomponentOf"],
            required_arrays: none,
            optional_arrays: &["providesApis", "consumesApis", "dependsOn"],
            profile: false,
            untyped: &["dependencyOf"],
        },
        "Resource" => SpecShape {
            required_strings: &["type", "owner"],
            optional_strings: &["system"],
            required_arrays: none,
            optional_arrays: &["dependsOn"],
            profile: false,
            untyped: &["dependencyOf"],
        },
        "System" => SpecShape {
            required_strings: &["owner"],
            optional_strings: &["domain", "type"],
            required_arrays: none,
            optional_arrays: none,
            profile: false,
            untyped: none,
        },
        "Domain" => SpecShape {
            required_strings: &["owner"],
            optional_strings: &["subdomainOf", "type"],
            required_arrays: none,
            optional_arrays: none,
            profile: false,
            untyped: none,
        },
        "Group" => SpecShape {
            required_strings: &["type"],
            optional_strings: &["parent"],
            required_arrays: &["children"],
            optional_arrays: &["members"],
            profile: true,
            untyped: none,
        },
        "User" => SpecShape {
            required_strings: none,
            optional_strings: none,
            required_arrays: &["memberOf"],
            optional_arrays: none,
            profile: true,
            untyped: none,
        },
        _ => SpecShape {
            required_strings: none,
            optional_strings: &["type", "target"],
            required_arrays: none,
            optional_arrays: &["targets"],
            profile: false,
            untyped: none,
        },
    }
}

fn spec_mutations(kind: &str) -> Vec<Mutation> {
    let s = spec_shape(kind);
    let mut m = Vec::new();
    let bad_strings = [
        json!(""),
        json!(5),
        json!(null),
        json!(true),
        json!([]),
        json!({}),
        json!(["x"]),
    ];
    let good_strings = [json!(" "), json!("ünïcødé ✓"), json!("Group:NS/x y")];
    for (required, fields) in [(true, s.required_strings), (false, s.optional_strings)] {
        for f in fields {
            if required {
                m.push(mdel(&["spec", f]));
            }
            for v in bad_strings.iter().chain(good_strings.iter()) {
                m.push(mset(&["spec", f], v.clone()));
            }
        }
    }
    let bad_arrays = [
        json!("x"),
        json!(5),
        json!(null),
        json!({}),
        json!([""]),
        json!([5]),
        json!([null]),
        json!(["ok", ""]),
        json!([["x"]]),
        json!(["ok", 7, ""]),
    ];
    let good_arrays = [json!([]), json!(["a", "a"]), json!(["Group:NS/x", " "])];
    for (required, fields) in [(true, s.required_arrays), (false, s.optional_arrays)] {
        for f in fields {
            if required {
                m.push(mdel(&["spec", f]));
            }
            for v in bad_arrays.iter().chain(good_arrays.iter()) {
                m.push(mset(&["spec", f], v.clone()));
            }
        }
    }
    for f in s.untyped {
        for v in [
            json!(5),
            json!("x"),
            json!(null),
            json!([1, {}]),
            json!({ "a": 1 }),
        ] {
            m.push(mset(&["spec", f], v));
        }
    }
    if s.profile {
        for v in [
            json!("x"),
            json!(null),
            json!([]),
            json!({}),
            json!({ "displayName": "" }),
            json!({ "email": 5 }),
            json!({ "picture": null }),
            json!({ "extra": 1 }),
            json!({ "displayName": "x", "email": "", "picture": 5 }),
        ] {
            m.push(mset(&["spec", "profile"], v));
        }
    }
    if kind == "Location" {
        for v in [
            json!("required"),
            json!("optional"),
            json!("Required"),
            json!(""),
            json!(5),
            json!(null),
            json!("maybe"),
            json!(["required"]),
        ] {
            m.push(mset(&["spec", "presence"], v));
        }
    }
    // spec itself
    m.push(mset(&["spec"], json!({})));
    m.push(mset(&["spec"], json!({ "x": 1 })));
    m.push(mfn("spec extra key first", |d| {
        if let Some(Value::Object(spec)) = d.get("spec").cloned() {
            let mut out = Map::new();
            out.insert("aaa".into(), json!({ "x": [1] }));
            out.extend(spec);
            d["spec"] = Value::Object(out);
        }
    }));
    m
}

/// Alpha documents: AiResource variants and mcp-server APIs.
fn alpha_docs() -> Vec<(String, Value)> {
    let ai = |spec: Value| {
        json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "AiResource",
            "metadata": { "name": "ai-1", "annotations": { "backstage.io/source-location": "url:https://example.com/x" } },
            "spec": spec
        })
    };
    let mcp = |spec: Value| {
        json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "API",
            "metadata": { "name": "mcp-1" },
            "spec": spec
        })
    };
    let base = json!({ "type": "prompt", "lifecycle": "production", "owner": "team-a" });
    let skill = json!({
        "type": "skill", "lifecycle": "experimental", "owner": "team-a", "system": "sys",
        "disciplines": ["backend"], "categories": ["c"], "agents": ["a"], "dependsOn": ["aiResource:x"],
        "allowedTools": "Bash Read", "license": "MIT", "compatibility": "é".repeat(500)
    });
    let rule = json!({ "type": "rule", "lifecycle": "production", "owner": "team-a", "category": "style", "rationale": "why", "disciplines": ["x"] });
    let plugin = json!({ "type": "plugin", "lifecycle": "production", "owner": "team-a", "skills": [], "version": "1.0.0" });
    let market = json!({ "type": "marketplace", "lifecycle": "production", "owner": "team-a", "plugins": ["p"], "version": "2" });
    let server = json!({
        "type": "mcp-server", "lifecycle": "production", "owner": "team-a", "system": "sys",
        "remotes": [{ "type": "streamable-http", "url": "https://mcp.example.com/mcp" }, { "type": "stdio", "url": "npx server" }]
    });

    let mut out = Vec::new();
    let mut variants: Vec<(String, Value, Vec<Mutation>)> = Vec::new();
    let common = |extra: Vec<Mutation>| -> Vec<Mutation> {
        let mut m = vec![
            mdel(&["spec", "lifecycle"]),
            mdel(&["spec", "owner"]),
            mdel(&["spec", "type"]),
            mset(&["spec", "owner"], json!("")),
            mset(&["spec", "system"], json!("")),
            mset(&["spec", "system"], json!(5)),
            mset(&["apiVersion"], json!("backstage.io/v1beta1")),
            mset(&["kind"], json!("aiResource")),
            mdel(&["spec"]),
            mset(&["spec"], json!([])),
            mset(&["metadata", "name"], json!("")),
            mset(&["foo"], json!(1)),
        ];
        m.extend(extra);
        m
    };
    variants.push((
        "ai default".into(),
        ai(base.clone()),
        common(vec![mset(&["spec", "type"], json!("skill-ish"))]),
    ));
    variants.push((
        "ai skill".into(),
        ai(skill),
        common(vec![
            mset(&["spec", "compatibility"], json!("é".repeat(501))),
            mset(&["spec", "compatibility"], json!("😀".repeat(500))),
            mset(&["spec", "compatibility"], json!("😀".repeat(501))),
            mset(&["spec", "compatibility"], json!("")),
            mset(&["spec", "disciplines"], json!([""])),
            mset(&["spec", "agents"], json!("x")),
            mset(&["spec", "dependsOn"], json!([5])),
            mset(&["spec", "allowedTools"], json!("")),
            mset(&["spec", "license"], json!(5)),
            mset(&["spec", "type"], json!("rule")),
        ]),
    ));
    variants.push((
        "ai rule".into(),
        ai(rule),
        common(vec![
            mdel(&["spec", "category"]),
            mdel(&["spec", "rationale"]),
            mset(&["spec", "category"], json!("")),
            mset(&["spec", "disciplines"], json!([null])),
            mset(&["spec", "type"], json!("skill")),
        ]),
    ));
    variants.push((
        "ai plugin".into(),
        ai(plugin),
        common(vec![
            mdel(&["spec", "skills"]),
            mset(&["spec", "skills"], json!([""])),
            mset(&["spec", "skills"], json!("x")),
            mset(&["spec", "version"], json!("")),
            mset(&["spec", "type"], json!("marketplace")),
        ]),
    ));
    variants.push((
        "ai marketplace".into(),
        ai(market),
        common(vec![
            mdel(&["spec", "plugins"]),
            mset(&["spec", "plugins"], json!([])),
            mset(&["spec", "plugins"], json!([5])),
            mset(&["spec", "version"], json!(1)),
        ]),
    ));
    variants.push((
        "mcp server".into(),
        mcp(server),
        common(vec![
            mdel(&["spec", "remotes"]),
            mset(&["spec", "remotes"], json!([])),
            mset(&["spec", "remotes"], json!("x")),
            mset(&["spec", "remotes"], json!([{}])),
            mset(&["spec", "remotes"], json!([{ "type": "sse" }])),
            mset(&["spec", "remotes"], json!([{ "url": "x" }])),
            mset(&["spec", "remotes"], json!([{ "type": "", "url": "x" }])),
            mset(&["spec", "remotes"], json!([{ "type": "sse", "url": 5 }])),
            mset(
                &["spec", "remotes"],
                json!([{ "type": "sse", "url": "x", "extra": true }]),
            ),
            mset(&["spec", "definition"], json!("openapi: 3.0.0")),
            mset(&["spec", "type"], json!("openapi")),
            mset(&["spec", "type"], json!("MCP-server")),
            mset(&["apiVersion"], json!("backstage.io/v1beta1")),
            mset(&["kind"], json!("Component")),
        ]),
    ));
    for (label, doc, muts) in variants {
        out.push((label.clone(), doc.clone()));
        for mu in muts {
            let mut d = doc.clone();
            (mu.edit)(&mut d);
            out.push((format!("{label}: {}", mu.label), d));
        }
    }
    out
}

/// Every entity document of the corpus, labelled.
pub fn entity_docs() -> Vec<(String, Value)> {
    let mut bases = Vec::new();
    for kind in KINDS {
        for version in VERSIONS {
            for ns in [None, Some("ns-a")] {
                for variant in 0..4 {
                    let label = format!("{kind} {version} ns={ns:?} variant={variant}");
                    bases.push((kind, label, base_doc(kind, version, ns, variant)));
                }
            }
        }
    }
    let generic = generic_mutations();
    let mut out = Vec::new();
    for (b, (kind, label, doc)) in bases.iter().enumerate() {
        out.push((label.clone(), doc.clone()));
        for (i, mu) in generic.iter().enumerate() {
            if (b + i) % 6 == 0 {
                let mut d = doc.clone();
                (mu.edit)(&mut d);
                out.push((format!("{label}: {}", mu.label), d));
            }
        }
        if b % 2 == 0 {
            for mu in spec_mutations(kind) {
                let mut d = doc.clone();
                (mu.edit)(&mut d);
                out.push((format!("{label}: {}", mu.label), d));
            }
        }
    }
    // Several rules broken at once (seeded): which problem is reported first must agree too.
    let mut rng = Rng::new(0xC0_4B05);
    for n in 0..600 {
        let (kind, label, doc) = &bases[rng.below(bases.len())];
        let spec = spec_mutations(kind);
        let mut d = doc.clone();
        let mut labels = Vec::new();
        for _ in 0..2 + n % 2 {
            let mu = if rng.below(3) == 0 {
                &spec[rng.below(spec.len())]
            } else {
                &generic[rng.below(generic.len())]
            };
            (mu.edit)(&mut d);
            labels.push(mu.label.clone());
        }
        out.push((format!("{label}: combo {}", labels.join(" + ")), d));
    }
    out.extend(alpha_docs());
    // Non-object roots and other oddities.
    for (label, doc) in [
        ("root null", json!(null)),
        ("root string", json!("x")),
        ("root number", json!(5)),
        ("root array", json!([])),
        ("root empty object", json!({})),
        ("root bool", json!(true)),
        ("only kind", json!({ "kind": "Component" })),
        ("foreign key before missing ones", json!({ "foo": 1 })),
        (
            "group without children",
            json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Group", "metadata": { "name": "g" }, "spec": { "type": "team" } }),
        ),
        (
            "user without memberOf",
            json!({ "apiVersion": "backstage.io/v1beta1", "kind": "User", "metadata": { "name": "u" }, "spec": {} }),
        ),
        (
            "location empty spec",
            json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Location", "metadata": { "name": "l" }, "spec": {} }),
        ),
        (
            "location no spec",
            json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Location", "metadata": { "name": "l" } }),
        ),
        (
            "two problems: name and spec",
            json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": "a b" }, "spec": { "type": "service" } }),
        ),
        (
            "two problems: namespace and label",
            json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": "a", "namespace": "A", "labels": { "x y": "z" } }, "spec": {} }),
        ),
        (
            "two schema problems",
            json!({ "apiVersion": 5, "kind": 5, "metadata": { "name": 5 } }),
        ),
        (
            "kind and spec wrong",
            json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Widget", "metadata": { "name": "w" }, "spec": { "type": 5 } }),
        ),
    ] {
        out.push((label.to_owned(), doc));
    }
    out
}

fn kind_checks(docs: &[(String, Value)], out: &mut Vec<Value>) {
    for (i, (label, doc)) in docs.iter().enumerate() {
        assert_eq!(out[i]["label"], json!(label), "entity cases come first");
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
        let alpha = label.starts_with("ai ") || label.starts_with("mcp ");
        let names: Vec<&str> = if alpha {
            ALL_VALIDATORS.to_vec()
        } else {
            let mut v = Vec::new();
            if (i % 2 == 0 || label.contains(": combo ")) && KINDS.contains(&kind) {
                v.push(validator_for(kind));
            }
            if i % 5 == 0 {
                v.push(ALL_VALIDATORS[(i / 5) % ALL_VALIDATORS.len()]);
            }
            if !KINDS.contains(&kind) && i % 3 == 0 {
                v.push("component");
            }
            v
        };
        for name in names {
            // The document is the one of entity case `i` (entity cases come first).
            out.push(json!({ "t": "kindCheck", "label": label, "validator": name, "docRef": i }));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Validator functions

pub const VALIDATOR_FNS: [&str; 15] = [
    "k8s.isValidApiVersion",
    "k8s.isValidKind",
    "k8s.isValidObjectName",
    "k8s.isValidNamespace",
    "k8s.isValidLabelKey",
    "k8s.isValidLabelValue",
    "k8s.isValidAnnotationKey",
    "k8s.isValidAnnotationValue",
    "common.isValidDnsLabel",
    "common.isValidDnsSubdomain",
    "common.isValidUrl",
    "common.isNonEmptyString",
    "common.isValidString",
    "common.isValidTag",
    "makeValidator.isValidTag",
];

fn predicate_values() -> Vec<Value> {
    let mut v: Vec<Value> = Vec::new();
    // Examples from the spec tables (§4.2, §4.3) and their neighbours.
    for s in [
        "backstage.io/v1alpha1",
        "v1",
        "my-company.net/v1",
        "a.b.c/V1",
        "1.0",
        "Backstage.io/v1",
        "a/b/c",
        "/v1",
        "backstage.io/",
        "backstage.io/v1-alpha",
        "x_y/v1",
        "Component",
        "component",
        "API",
        "a1",
        "1a",
        "my-kind",
        "a_b",
        "a",
        "A",
        "1",
        "a--b",
        "a..b",
        "a-_.b",
        "CircleciBuildsDumpV2_avro_gcs",
        "-a",
        "a-",
        "_a",
        "a_",
        "a b",
        "ä",
        "a/b",
        "a:b",
        "",
        "default",
        "a-b",
        "Default",
        "a.b",
        "foo",
        "backstage.io/foo",
        "example.com/Foo_Bar",
        "Backstage.io/foo",
        "/foo",
        "foo/",
        "V_a.l-ue",
        "-x",
        "backstage.io/managed-by-location",
        "x.io/UPPER",
        "UPPER.io/x",
        "java",
        "c++",
        "c#",
        "lang:java",
        "go:1-x",
        ":",
        "+",
        "#-#",
        "Java",
        "a.b",
        " ",
        "\t",
        "\n",
        "\u{FEFF}",
        "\u{A0}",
        "\u{85}",
        "\u{180E}",
        "\u{200B}",
        "\u{2028}",
        "\u{3000}",
        " x ",
        "\u{FEFF}x",
        "a\n",
        "\na",
        "a\nb",
        "ſ",
        "İ",
        "K",
        "\u{212A}",
        "é",
        "e\u{301}",
        "ⓐ",
        "１",
        "a/b/",
        "a//b",
        "..",
        ".",
        "-",
        "--",
        "a.-b",
        "a-.b",
        "0",
        "00",
        "a.b.c.d",
        "a.b.",
        ".a.b",
    ] {
        v.push(json!(s));
    }
    // URL edge cases (WHATWG URL parsing).
    for s in [
        "https://x",
        "http://",
        "https://",
        "http://a b",
        "https://exa%41mple.com",
        "http://[::1]",
        "http://[::1",
        "http://1.2.3.4.5",
        "http://256.0.0.1",
        "http://0x7f.1",
        "http://a.b.c.256",
        "http://999999999",
        "http://4294967296",
        "http://example.com:65536",
        "http://example.com:65535",
        "http://exa\tmple.com",
        "https://ü.com",
        "http://xn--",
        "http://xn--a.com",
        "http://a..b",
        "http://.",
        "http://%zz",
        "http://a%2Fb",
        "http://a<b",
        "http://a^b",
        "http://a|b",
        "file:",
        "file://host/x",
        "file:///x",
        "data:,x",
        "a:",
        "1a:x",
        "a+b-c.d:x",
        "http:/x",
        "http:x",
        "https:\\\\x",
        "urn:isbn:123",
        "mailto:",
        "mailto:a@b",
        "git@github.com:a/b",
        "ssh://git@github.com/a",
        "http://user:pass@host",
        "http://@host",
        "http://:@host",
        "http://[1:2:3:4:5:6:7:8:9]",
        "http://[::ffff:1.2.3.4]",
        "http://🙂.com",
        "http://a\u{0}b",
        "http://\u{A0}x",
        "http://ſ.com",
        "http://x/\u{FEFF}",
        "javascript:alert(1)",
        "http://a.b/%",
        "http://a.-b",
        "http://-a.b",
        "http://a_b.com",
        "http://*.com",
        "http://%41.com",
        "http://%00.com",
        "http://1.2.3",
        "http://1.2.3.4.",
        "http://1.2.3.09",
        "http://0..0",
        " https://x ",
        "\u{1}https://x",
        "https://x\u{1}",
        "https://x\u{7f}",
        "https://x#frag ment",
        "https://x?q=a b",
        "HTTP://EXAMPLE.COM",
        "ws://x",
        "wss://",
        "foo://",
        "foo:",
        "foo:/",
        "//x",
        "/relative",
        "relative",
        "?q",
        "#f",
        "http://a:b@c:d",
        "http://x:80",
        "http://x:",
        "http://[]",
        "http://[::]",
        "http://[:::]",
        "http://[1::2::3]",
        "http://0",
        "http://0.0.0.0",
        "http://1e1",
        "http://0x",
        "http://0xg",
        "http://xn--ls8h",
        "http://xn--ls8h.la",
        "http://ab\u{AD}c.com",
        "http://a\u{200B}b",
        "http://ÿ.com",
        "http://⒈.com",
        "http://Ⅷ.com",
        "http://a。b",
        "http://x.com\\y",
        "sc://ñ",
        "sc://\u{0}",
        "sc://a b",
        "non-spec:/.//",
        "blob:https://x/uuid",
        "about:blank",
        "http://example.com/%E2%82%AC",
        "http://[0:0:0:0:0:0:13.1.68.3]",
        "http://[::1.2.3.]",
        "http://1.2.3.4:-1",
        "http://[fe80::1%25eth0]",
        "tel:+1-555",
        "c:\\windows",
        "C:/x",
        "a.b:c",
    ] {
        v.push(json!(s));
    }
    // Boundary lengths.
    for n in [62, 63, 64, 252, 253, 254, 255] {
        v.push(json!("a".repeat(n)));
        v.push(json!("A".repeat(n)));
        v.push(json!(dotted(n)));
        v.push(json!(format!("{}/x", dotted(n))));
        v.push(json!(format!("x/{}", "a".repeat(n))));
    }
    v.push(json!(format!("{}-{}", "a".repeat(31), "b".repeat(31))));
    v.push(json!(format!("{}-{}", "a".repeat(31), "b".repeat(32))));
    // Seeded pseudo-random strings.
    let alphabet: Vec<char> = "abcxyzABCXYZ0129 -_.:/+#éſİ\u{FEFF}\u{A0}\n\u{85}"
        .chars()
        .collect();
    let structured = [
        "a",
        "b1",
        "x-y",
        "Z",
        "9",
        "",
        "-",
        ".",
        "io",
        "backstage",
        "v1",
        "V1alpha1",
        "é",
        " ",
        "c++",
        "#",
        ":",
    ];
    let mut rng = Rng::new(0x5EED_CA7A_1060);
    for i in 0..400 {
        let s: String = if i % 2 == 0 {
            let len = match i % 10 {
                0 => 62 + rng.below(4),
                2 => 250 + rng.below(6),
                _ => rng.below(71),
            };
            // Mostly lower-case ASCII so that some strings are valid.
            (0..len)
                .map(|_| {
                    if rng.below(4) == 0 {
                        *rng.pick(&alphabet)
                    } else {
                        *rng.pick(&['a', 'b', 'z', '0', '7', '-', '.'])
                    }
                })
                .collect()
        } else {
            let parts = 1 + rng.below(4);
            let mut s = String::new();
            for p in 0..parts {
                if p > 0 {
                    s.push(*rng.pick(&['.', '/', '-', '_', ':', '/']));
                }
                let part: &&str = rng.pick(&structured);
                s.push_str(part);
            }
            s
        };
        v.push(json!(s));
    }
    // Non-strings.
    for x in [
        json!(null),
        json!(1),
        json!(0),
        json!(true),
        json!(false),
        json!([]),
        json!({}),
        json!(["a"]),
        json!({ "a": "b" }),
        json!(1.5),
    ] {
        v.push(x);
    }
    v
}

/// A dotted DNS name of exactly `n` characters (labels of up to 63 characters).
fn dotted(n: usize) -> String {
    let mut s = String::new();
    while s.len() < n {
        if !s.is_empty() {
            s.push('.');
        }
        let room = n - s.len();
        let take = room.min(63);
        s.push_str(&"a".repeat(take));
    }
    if s.ends_with('.') {
        s.pop();
        s.push('a');
    }
    s
}

fn validator_fns(out: &mut Vec<Value>) {
    for value in predicate_values() {
        for f in VALIDATOR_FNS {
            out.push(json!({ "t": "validatorFn", "fn": f, "value": value }));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Entity refs

fn parse_refs(out: &mut Vec<Value>) {
    let mut push = |input: Value, context: Option<Value>| {
        let mut c = json!({ "t": "parseRef", "input": input });
        if let Some(ctx) = context {
            c["context"] = ctx;
        }
        out.push(c);
    };
    // Spec §7.5, P1-P42.
    let g = || Some(json!({ "defaultKind": "Group" }));
    let gt = || Some(json!({ "defaultKind": "Group", "defaultNamespace": "team-ns" }));
    let x = || Some(json!({ "defaultKind": "x" }));
    for (input, ctx) in [
        (json!("component:default/my-svc"), None),
        (json!("Component:My-NS/My.Svc_1"), None),
        (json!("my-svc"), g()),
        (json!("ns1/my-svc"), g()),
        (json!("my-svc"), gt()),
        (json!("user:jdoe"), gt()),
        (json!("user:other/jdoe"), gt()),
        (json!("k:n"), Some(json!({ "defaultNamespace": "ZZ" }))),
        (json!("my-svc"), None),
        (json!("ns1/my-svc"), None),
        (json!("my-svc"), Some(json!({ "defaultKind": "" }))),
        (
            json!("my-svc"),
            Some(json!({ "defaultKind": "Group", "defaultNamespace": "" })),
        ),
        (json!(""), None),
        (json!("k:"), None),
        (json!(":n"), x()),
        (json!("k:/n"), None),
        (json!("/n"), x()),
        (json!("ns/"), x()),
        (json!("k:ns/"), None),
        (json!(":"), x()),
        (json!("/"), x()),
        (json!("a:b:c"), None),
        (json!("k::n"), None),
        (json!("k:a/b/c"), None),
        (json!("a/b/c"), x()),
        (json!("ns/k:n"), x()),
        (json!("a/b:c"), None),
        (json!("k:ns//n"), None),
        (json!("url:https://x.com/a"), None),
        (json!("  k:ns/n  "), None),
        (json!("component:default/with spaces"), None),
        (json!("Gröup:Naméspace/Nåme"), None),
        (json!({ "kind": "Component", "name": "a" }), None),
        (json!({ "name": "a" }), g()),
        (json!({ "kind": "K", "namespace": "NS", "name": "N" }), None),
        (
            json!({ "kind": "k", "namespace": "a/b", "name": "c:d" }),
            None,
        ),
        (json!({ "kind": "", "name": "a" }), g()),
        (json!({ "kind": "k", "namespace": "", "name": "a" }), None),
        (json!({ "kind": "k", "namespace": null, "name": "a" }), None),
        (json!({ "kind": "k" }), None),
        (json!("k:ns/n\nx"), None),
        (json!(5), x()),
    ] {
        push(input, ctx);
    }

    // Contexts used for the generated combinations.
    let contexts: Vec<Option<Value>> = vec![
        None,
        Some(json!({})),
        Some(json!({ "defaultKind": "Group" })),
        Some(json!({ "defaultKind": "" })),
        Some(json!({ "defaultNamespace": "" })),
        Some(json!({ "defaultKind": "Group", "defaultNamespace": "" })),
        Some(json!({ "defaultKind": "X", "defaultNamespace": "Y" })),
        Some(json!({ "defaultNamespace": "ns2" })),
        Some(json!({ "defaultKind": null, "defaultNamespace": null })),
        Some(json!({ "defaultKind": "Σ", "defaultNamespace": "İ" })),
    ];
    // String combinations of kind/namespace/name pieces.
    let kinds = [
        "",
        "k",
        "Component",
        "  k",
        "Σ",
        "İ",
        "\u{212A}",
        "a/b",
        "a b",
    ];
    let namespaces = ["", "ns", "NS", " ", "a:b", "ΣΑΣ", "x/y"];
    let names = [
        "n", "", "a:b", "a/b", " n ", "ΟΔΟΣ", "ẞ", "\n", ":", "/", "::", "a b",
    ];
    let mut i = 0usize;
    for k in kinds {
        for ns in namespaces {
            for n in names {
                let forms = [
                    format!("{k}:{ns}/{n}"),
                    format!("{k}:{n}"),
                    format!("{ns}/{n}"),
                    n.to_owned(),
                ];
                for f in forms {
                    let ctx = contexts[i % contexts.len()].clone();
                    i += 1;
                    push(json!(f), ctx);
                }
            }
        }
    }
    // Every form with every context, for a few representative pieces.
    for s in [
        "k:ns/n", "k:n", "ns/n", "n", "K:N", "a:b/c", "a/b:c", "", " ", ":", "/", "k:/", ":/n",
    ] {
        for ctx in &contexts {
            push(json!(s), ctx.clone());
        }
    }
    // Compound objects with every kind of part value.
    let parts = [
        None,
        Some(json!(null)),
        Some(json!("")),
        Some(json!("v")),
        Some(json!("Σ:x/y")),
        Some(json!(0)),
        Some(json!(false)),
        Some(json!(5)),
        Some(json!(true)),
        Some(json!([])),
        Some(json!({})),
    ];
    let mut j = 0usize;
    for k in &parts {
        for ns in &parts {
            for n in &parts {
                let mut obj = Map::new();
                if let Some(v) = k {
                    obj.insert("kind".into(), v.clone());
                }
                if let Some(v) = ns {
                    obj.insert("namespace".into(), v.clone());
                }
                if let Some(v) = n {
                    obj.insert("name".into(), v.clone());
                }
                let ctx = contexts[j % 4 + 2].clone();
                j += 1;
                push(Value::Object(obj), ctx);
            }
        }
    }
    // JSON text of the input inside messages.
    for s in [
        "a\"b\\c\u{1}\u{1f}\u{7f}\u{2028}\u{FEFF}😀",
        "\t\r\n\u{8}\u{c}",
        "</script>",
        "ns/\u{0}",
    ] {
        push(json!(s), None);
    }
    push(json!({ "name": "a", "1": "integer-like key" }), None);
    push(
        json!({ "name": "n", "kind": "k", "extra": [1, "two"], "namespace": "NS" }),
        None,
    );
    push(
        json!({ "metadata": { "name": "n" }, "kind": "Component" }),
        None,
    );
    push(json!({ "name": "n\u{1}\"\\", "kind": "" }), None);
    push(
        json!({ "name": "", "kind": "k", "weird": "\u{2028}\u{7f}é😀" }),
        None,
    );
    // Non-string, non-object inputs.
    for input in [
        json!(null),
        json!(false),
        json!(0),
        json!(5),
        json!(-3),
        json!(1.5),
        json!(1.0),
        json!(-0.0),
        json!(1e21),
        json!(1.5e-7),
        json!(123_456.75),
        json!(true),
        json!([]),
        json!(["k:n"]),
        json!([{ "kind": "k", "name": "n" }]),
    ] {
        push(input.clone(), None);
        push(input, Some(json!({ "defaultKind": "k" })));
    }
}

fn stringify_refs(out: &mut Vec<Value>) {
    let mut push = |input: Value| out.push(json!({ "t": "stringifyRef", "input": input }));
    // Spec §7.6, S1-S12.
    for input in [
        json!({ "kind": "Component", "name": "a" }),
        json!({ "kind": "Component", "namespace": "NS", "name": "My-Svc" }),
        json!({ "kind": "K", "namespace": null, "name": "n" }),
        json!({ "kind": "K", "namespace": "", "name": "n" }),
        json!({ "kind": "k", "name": "a:b/c" }),
        json!({ "kind": "Group", "metadata": { "name": "Team-A" } }),
        json!({ "kind": "Group", "metadata": { "name": "Team-A", "namespace": "Other" } }),
        json!({ "kind": "Group", "metadata": { "name": "Team-A", "namespace": "" } }),
        json!({ "kind": "K", "name": "ΟΔΟΣ" }),
        json!({ "kind": "İ", "name": "ẞ" }),
        json!({ "kind": "K", "name": "ΣΑΣ.Σ" }),
        json!({ "kind": "K", "name": "\u{212A}" }),
    ] {
        push(input);
    }
    // Case mapping of assorted Unicode text.
    let texts = [
        "Σ",
        "ΑΣ",
        "ΑΣ.",
        "ΑΣ'Β",
        "ΑΣ Β",
        "Σ.Α",
        "İstanbul",
        "\u{212A}elvin",
        "ẞ",
        "Ⓐ",
        "ǅ",
        "Ǆ",
        "ᾈ",
        "ΐ",
        "Ａ",
        "𐐀",
        "𞤀",
        "Ꭰ",
        "Ა",
        "ℌ",
        "Ω",
        "Å",
        "ﬀ",
        "MiXeD-Case_1.x",
        "",
        " ",
        "A\u{300}Σ",
        "AΣ\u{300}",
        "Σ\u{300}",
    ];
    for (i, t) in texts.iter().enumerate() {
        push(json!({ "kind": t, "namespace": texts[(i + 3) % texts.len()], "name": t }));
        push(
            json!({ "kind": "Kind", "metadata": { "name": t, "namespace": texts[(i + 5) % texts.len()] } }),
        );
    }
    // Missing parts, non-string parts, odd shapes.
    let parts = [
        None,
        Some(json!(null)),
        Some(json!("")),
        Some(json!("V")),
        Some(json!(5)),
        Some(json!([])),
    ];
    for k in &parts {
        for ns in &parts {
            for n in &parts {
                let mut obj = Map::new();
                let mut meta = Map::new();
                if let Some(v) = k {
                    obj.insert("kind".into(), v.clone());
                }
                if let Some(v) = ns {
                    obj.insert("namespace".into(), v.clone());
                    meta.insert("namespace".into(), v.clone());
                }
                if let Some(v) = n {
                    obj.insert("name".into(), v.clone());
                    meta.insert("name".into(), v.clone());
                }
                let mut entity = Map::new();
                if let Some(v) = k {
                    entity.insert("kind".into(), v.clone());
                }
                entity.insert("metadata".into(), Value::Object(meta));
                push(Value::Object(obj));
                push(Value::Object(entity));
            }
        }
    }
    for input in [
        json!(null),
        json!("k:n"),
        json!(5),
        json!([]),
        json!({}),
        json!({ "kind": "K", "metadata": null }),
        json!({ "kind": "K", "metadata": "x" }),
        json!({ "kind": "K", "metadata": [] }),
        json!({ "kind": "K", "name": "top", "metadata": { "name": "meta" } }),
        json!({ "kind": "K", "name": "top", "namespace": "top-ns", "metadata": { "name": "meta" } }),
    ] {
        push(input);
    }
}

// ---------------------------------------------------------------------------------------
// Location refs

fn location_refs(out: &mut Vec<Value>) {
    let mut inputs: Vec<Value> = [
        "url:https://github.com/a/b/blob/main/catalog-info.yaml",
        "file:./rel.yaml",
        "bootstrap:bootstrap",
        " url : https://x ",
        "a:b:c",
        "github-org:https://github.com/org",
        "url:data:text/html,hi",
        "url:java script:x",
        "HTTP://x",
        "https://github.com/x",
        "http://github.com/x",
        "url:",
        ":x",
        "x:  ",
        "nocolon",
        "",
        ":",
        " : ",
        "url:javascript:alert(1)",
        "url: JavaScript:x",
        "url:\tjava\nscript:x",
        "url:\u{1}javascript:x",
        "url:j\ra\nv\ta\rs\nc\tr\ri\np\tt:x",
        "url:javascript :x",
        "url:javaſcript:x",
        "url:\u{A0}javascript:x",
        "url:\u{FEFF}javascript:x",
        "url:\u{85}javascript:x",
        "url:\u{2028}javascript:x",
        "url:java\u{B}script:x",
        "url:java\u{C}script:x",
        "url:\u{1F}\u{0} javascript:x",
        "url:javascript",
        "url:vbscript:x",
        "\u{FEFF}url\u{FEFF}:\u{FEFF}x\u{FEFF}",
        "\u{A0}url:x\u{A0}",
        "\u{85}url:x\u{85}",
        "\u{180E}url:x",
        "\u{200B}url:x",
        "\u{3000}url:x\u{3000}",
        "\u{2028}url:x\u{2029}",
        "http :x",
        " http:x",
        "https\t:x",
        "Https:x",
        "url:http://",
        "file:/abs/path.yaml",
        "url:https://example.com/a b",
        "ü:ñ",
        "a\nb:c\nd",
    ]
    .iter()
    .map(|s| json!(s))
    .collect();
    for v in [
        json!(null),
        json!(5),
        json!(-3),
        json!(1.5),
        json!(1.0),
        json!(-0.0),
        json!(1e21),
        json!(1.5e-7),
        json!(123_456.75),
        json!(true),
        json!(false),
        json!([]),
        json!(["url", "x"]),
        json!([null, "a", [1, [2]]]),
        json!({}),
        json!({ "type": "url", "target": "x" }),
    ] {
        inputs.push(v);
    }
    let types = [
        "url", "file", " url ", "http", "https", "HTTP", "", " ", "a:b", "\t",
    ];
    let targets = [
        "https://x",
        "./a.yaml",
        "",
        " ",
        "javascript:x",
        " javascript:x",
        "a:b",
        "\u{FEFF}",
    ];
    for t in types {
        for g in targets {
            inputs.push(json!(format!("{t}:{g}")));
        }
    }
    for input in inputs {
        out.push(json!({ "t": "parseLocationRef", "input": input }));
    }

    let types = [
        None,
        Some(""),
        Some("url"),
        Some(" "),
        Some("a:b"),
        Some("http"),
    ];
    let targets = [
        None,
        Some(""),
        Some("https://x"),
        Some(" "),
        Some("c"),
        Some("javascript:x"),
        Some(" JavaScript:x"),
        Some("\u{1}j\na\tvascript:x"),
        Some("\u{FEFF}javascript:x"),
        Some("java script:x"),
    ];
    for t in types {
        for g in targets {
            let mut obj = Map::new();
            if let Some(t) = t {
                obj.insert("type".into(), json!(t));
            }
            if let Some(g) = g {
                obj.insert("target".into(), json!(g));
            }
            out.push(json!({ "t": "stringifyLocationRef", "input": Value::Object(obj) }));
        }
    }
}

// ---------------------------------------------------------------------------------------
// GroupDefaultParentEntityPolicy

fn group_parents(out: &mut Vec<Value>) {
    let parents = [
        "root",
        "Group:Default/Root",
        "group:ns/x",
        "ns/x",
        "user:x",
        "User:x",
        "GROUP:x",
        "gRoUp:x",
        "",
        "k:",
        ":x",
        "İ:x",
        "ſ:x",
        "group:",
        "group:default/org",
    ];
    let group = |meta: Value, spec: Option<Value>| {
        let mut d =
            json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Group", "metadata": meta });
        if let Some(s) = spec {
            d["spec"] = s;
        }
        d
    };
    let docs = [
        group(
            json!({ "name": "team-a" }),
            Some(json!({ "type": "team", "children": [] })),
        ),
        group(
            json!({ "name": "team-a" }),
            Some(json!({ "type": "team", "children": [], "parent": "" })),
        ),
        group(
            json!({ "name": "team-a" }),
            Some(json!({ "type": "team", "children": [], "parent": "other" })),
        ),
        group(
            json!({ "name": "team-a" }),
            Some(json!({ "type": "team", "children": [], "parent": null })),
        ),
        group(
            json!({ "name": "team-a" }),
            Some(json!({ "type": "team", "children": [], "parent": 0 })),
        ),
        group(
            json!({ "name": "team-a" }),
            Some(json!({ "type": "team", "children": [], "parent": 5 })),
        ),
        group(
            json!({ "name": "team-a" }),
            Some(json!({ "type": "team", "children": [], "parent": false })),
        ),
        group(
            json!({ "name": "team-a" }),
            Some(json!({ "parent": [], "type": "team" })),
        ),
        group(
            json!({ "name": "root" }),
            Some(json!({ "type": "root", "children": [] })),
        ),
        group(
            json!({ "name": "Root", "namespace": "Default" }),
            Some(json!({ "type": "root", "children": [] })),
        ),
        group(
            json!({ "name": "root", "namespace": "" }),
            Some(json!({ "type": "root", "children": [] })),
        ),
        group(
            json!({ "name": "x", "namespace": "ns" }),
            Some(json!({ "type": "team", "children": [] })),
        ),
        group(json!({ "name": "X", "namespace": "NS" }), Some(json!({}))),
        group(json!({ "name": "org" }), Some(json!({ "type": "team" }))),
        group(json!({ "name": "team-a" }), None),
        group(json!({ "name": "team-a" }), Some(json!(null))),
        group(json!({ "name": "team-a" }), Some(json!("x"))),
        group(json!({ "name": "team-a" }), Some(json!(5))),
        group(json!({ "name": "team-a" }), Some(json!(true))),
        group(json!({ "name": "team-a" }), Some(json!([]))),
        group(json!({ "name": 5 }), Some(json!({ "type": "team" }))),
        group(json!({}), Some(json!({ "type": "team" }))),
        group(json!(null), Some(json!({ "type": "team" }))),
        json!({ "kind": "Group", "spec": { "type": "team" } }),
        json!({ "kind": "Group", "metadata": { "name": "a" }, "spec": { "type": "team", "parent": "p" } }),
        json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "group", "metadata": { "name": "a" }, "spec": {} }),
        json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": "a" }, "spec": {} }),
        json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": "a" } }),
        json!({ "kind": "GROUP", "metadata": { "name": "a" } }),
        json!({ "metadata": { "name": "a" } }),
        json!({}),
    ];
    for p in parents {
        for d in &docs {
            out.push(json!({ "t": "groupParent", "parent": p, "doc": d }));
        }
    }
}
